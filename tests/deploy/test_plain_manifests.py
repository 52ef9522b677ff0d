"""deploy/k8s: the chart rendered for `kubectl apply`, kept equal to a fresh render; dev infra."""

import difflib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.chart import (
    CHART_DIR,
    DEV_INFRA_DIR,
    K8S_MANIFEST,
    SERVICES,
    find,
    load_yaml,
    plain_manifests,
)
from tests.deploy.validation import KUBE_VERSIONS, validate_object

DEV_VALUES = load_yaml(CHART_DIR / "ci" / "dev-values.yaml")


def _objects(path: Path) -> list[dict[str, Any]]:
    return [obj for obj in yaml.safe_load_all(path.read_text(encoding="utf-8")) if obj]


def test_plain_manifests_equal_a_fresh_render_of_the_chart() -> None:
    fresh = plain_manifests()
    checked_in = K8S_MANIFEST.read_text(encoding="utf-8")
    if checked_in != fresh:
        diff = difflib.unified_diff(
            checked_in.splitlines(), fresh.splitlines(), "checked in", "fresh render", lineterm=""
        )
        pytest.fail(
            "deploy/k8s/switchboard.yaml has drifted from the chart; run `make chart`:\n"
            + "\n".join(list(diff)[:60])
        )


def test_plain_manifests_have_every_service_and_no_helm_hooks() -> None:
    objects = _objects(K8S_MANIFEST)
    names = {obj["metadata"]["name"] for obj in find(objects, "Deployment")}
    assert names == {f"switchboard-{service}" for service in SERVICES}
    hooks = [obj["metadata"]["name"] for obj in objects if "helm.sh/hook" in str(obj)]
    assert not hooks, "kubectl apply would run hooks as plain objects"


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize(
    "path", [K8S_MANIFEST, *sorted(DEV_INFRA_DIR.glob("*.yaml"))], ids=lambda p: p.name
)
def test_manifest_files_validate_strictly(path: Path, kube_version: str) -> None:
    objects = _objects(path)
    assert objects
    for obj in objects:
        validate_object(obj, kube_version)


def test_dev_infra_serves_what_the_dev_values_expect() -> None:
    chart_values = load_yaml(CHART_DIR / "values.yaml")
    nats = _objects(DEV_INFRA_DIR / "nats.yaml")
    postgres = _objects(DEV_INFRA_DIR / "postgres.yaml")
    assert DEV_VALUES.get("nats", chart_values["nats"])["url"] == "nats://nats:4222"
    (nats_service,) = find(nats, "Service", "nats")
    assert 4222 in {port["port"] for port in nats_service["spec"]["ports"]}
    (nats_server,) = find(nats, "StatefulSet", "nats")
    assert "--jetstream" in nats_server["spec"]["template"]["spec"]["containers"][0]["args"]

    database = chart_values["database"]
    (secret,) = find(postgres, "Secret", database["existingSecret"])
    dsn = secret["stringData"][database["key"]]
    (postgres_service,) = find(postgres, "Service", "postgres")
    assert dsn.startswith("postgresql://")
    assert "@postgres:5432/" in dsn
    assert postgres_service["spec"]["ports"][0]["port"] == 5432


def test_dev_values_fit_a_single_nats_server() -> None:
    assert DEV_VALUES["chat"]["streamReplicas"] == 1
    assert DEV_VALUES["notification"]["streamReplicas"] == 1
    assert DEV_VALUES["persistence"]["streamReplicas"] == 1
