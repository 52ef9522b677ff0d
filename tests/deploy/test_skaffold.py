"""skaffold.yaml validates against Skaffold's schema and agrees with the chart and Dockerfile."""

import copy
import json
import re
from typing import Any

import jsonschema
import pytest

from tests.deploy.chart import (
    CHART_DIR,
    NAMESPACE,
    RELEASE,
    REPO_ROOT,
    SERVICES,
    find,
    load_yaml,
    manifests,
    schemas_dir,
)

SKAFFOLD = load_yaml(REPO_ROOT / "skaffold.yaml")
DOCKERFILE = (REPO_ROOT / "docker" / "Dockerfile").read_text(encoding="utf-8")


def _schema() -> dict[str, Any]:
    root = schemas_dir()
    if root is None:
        pytest.skip(
            "skaffold.yaml not validated: ../shared/schemas is absent next to the repository"
        )
    schema: dict[str, Any] = json.loads((root / "skaffold" / "v4beta14.json").read_text())
    return schema


def _profile(name: str) -> dict[str, Any]:
    (profile,) = [p for p in SKAFFOLD["profiles"] if p["name"] == name]
    result: dict[str, Any] = profile
    return result


def _with_patches(config: dict[str, Any], patches: list[dict[str, Any]]) -> dict[str, Any]:
    """Apply a profile's JSON patches (only ``add``, which is all skaffold.yaml uses)."""
    patched = copy.deepcopy(config)
    for patch in patches:
        assert patch["op"] == "add", patch
        *parents, last = patch["path"].strip("/").split("/")
        node: Any = patched
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        assert isinstance(node, dict), f"{patch['path']}: only object members are added"
        node[last] = copy.deepcopy(patch["value"])
    return patched


def _dev_config() -> dict[str, Any]:
    profile = _profile("dev")
    config = _with_patches(SKAFFOLD, profile["patches"])
    config.pop("profiles")
    config["portForward"] = profile["portForward"]
    return config


def test_skaffold_yaml_validates_against_the_v4beta14_schema() -> None:
    assert SKAFFOLD["apiVersion"] == "skaffold/v4beta14"
    jsonschema.Draft7Validator(_schema()).validate(SKAFFOLD)


def test_dev_profile_patches_apply_and_the_result_validates() -> None:
    jsonschema.Draft7Validator(_schema()).validate(_dev_config())


@pytest.mark.parametrize("service", SERVICES)
def test_one_artifact_per_service_from_the_one_dockerfile(service: str) -> None:
    (artifact,) = [a for a in SKAFFOLD["build"]["artifacts"] if a["image"] == service]
    assert artifact["context"] == "."
    assert artifact["docker"]["dockerfile"] == "docker/Dockerfile"
    assert artifact["docker"]["buildArgs"] == {"SERVICE": service}


@pytest.mark.parametrize("service", SERVICES)
def test_helm_release_gets_each_built_image_in_the_service_block(service: str) -> None:
    (release,) = SKAFFOLD["deploy"]["helm"]["releases"]
    templates = release["setValueTemplates"]
    # Skaffold spells an artifact's template keys with "-" and "/" turned into "_".
    key = re.sub(r"[-/]", "_", service)
    assert templates[f"{service}.image.repository"] == f"{{{{.IMAGE_REPO_{key}}}}}"
    assert (
        templates[f"{service}.image.tag"] == f"{{{{.IMAGE_TAG_{key}}}}}@{{{{.IMAGE_DIGEST_{key}}}}}"
    )
    assert set(load_yaml(CHART_DIR / "values.yaml")[service]["image"]) == {"repository", "tag"}


def test_helm_release_is_the_release_the_tests_render() -> None:
    (release,) = SKAFFOLD["deploy"]["helm"]["releases"]
    assert (REPO_ROOT / release["chartPath"]).resolve() == CHART_DIR
    assert (release["name"], release["namespace"]) == (RELEASE, NAMESPACE)


def test_dev_profile_builds_the_dev_target_and_syncs_python_sources() -> None:
    config = _dev_config()
    assert re.search(r"^FROM build AS dev$", DOCKERFILE, re.MULTILINE)
    for artifact in config["build"]["artifacts"]:
        assert artifact["docker"]["target"] == "dev"
        synced = {rule["src"]: rule["dest"] for rule in artifact["sync"]["manual"]}
        assert synced == {"libs/**/*.py": "/src", "services/**/*.py": "/src"}


def test_dev_profile_deploys_dev_infra_and_dev_values_that_exist() -> None:
    config = _dev_config()
    for path in config["manifests"]["rawYaml"]:
        assert (REPO_ROOT / path).is_file(), path
    (release,) = config["deploy"]["helm"]["releases"]
    for path in release["valuesFiles"]:
        assert (REPO_ROOT / path).is_file(), path


def test_dev_profile_forwards_the_gateway_service_to_localhost_8080() -> None:
    (forward,) = _profile("dev")["portForward"]
    (release,) = _dev_config()["deploy"]["helm"]["releases"]
    dev_values = load_yaml(REPO_ROOT / release["valuesFiles"][0])
    (service,) = find(manifests(dev_values), "Service", forward["resourceName"])
    assert service["metadata"]["labels"]["app.kubernetes.io/name"] == "gateway"
    assert forward["resourceType"] == "service"
    assert forward["namespace"] == NAMESPACE
    assert forward["port"] == service["spec"]["ports"][0]["port"]
    assert forward["localPort"] == 8080
