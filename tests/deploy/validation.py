"""Strict schema validation of rendered objects, for the oldest and newest supported Kubernetes."""

import json
import re
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from tests.deploy.chart import CHART_DIR, Manifest, load_yaml, schemas_dir

__all__ = [
    "CRD_SCHEMAS",
    "KUBE_VERSIONS",
    "OFFLINE_OLDEST",
    "is_custom_resource",
    "validate_object",
]

CRD_SCHEMAS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "monitoring.coreos.com/servicemonitor_v1.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "monitoring.coreos.com/prometheusrule_v1.json",
    ("gateway.networking.k8s.io/v1", "HTTPRoute"): "gateway.networking.k8s.io/httproute_v1.json",
}


# Offline, the chart renders as for a current cluster (autoscaling/v2, policy/v1, the preStop
# sleep action): checked against 1.30, the oldest such version, and the newest schemas known.
# Older clusters down to Chart.yaml's floor get other API versions, which a real API server
# checks (tests/k8s, on Kubernetes 1.20).
OFFLINE_OLDEST = "1.30.0"


def _kube_versions() -> tuple[str, str]:
    """The oldest version the offline rendering targets and the newest one we can check."""
    constraint = load_yaml(CHART_DIR / "Chart.yaml")["kubeVersion"]
    floor = re.fullmatch(r">=\s*(\d+\.\d+)\.\d+(-0)?", constraint)
    assert floor, f"kubeVersion {constraint!r} should be a lower bound like '>=1.20.0-0'"
    return OFFLINE_OLDEST, kubernetes_validate.latest_version()


KUBE_VERSIONS = _kube_versions()


def is_custom_resource(obj: Manifest) -> bool:
    return (obj["apiVersion"], obj["kind"]) in CRD_SCHEMAS


def _crd_schema(api_version: str, kind: str) -> dict[str, Any]:
    root = schemas_dir()
    if root is None:
        pytest.skip(f"{kind} not validated: ../shared/schemas is absent next to the repository")
    schema: dict[str, Any] = json.loads(
        (root / "crds" / CRD_SCHEMAS[api_version, kind]).read_text()
    )
    return schema


def validate_object(obj: Manifest, kube_version: str) -> None:
    """Strict schema validation: core kinds by kubernetes-validate, custom resources by their
    CRD's schema from ../shared/schemas (skips the test, saying so, where that is absent)."""
    key = (obj["apiVersion"], obj["kind"])
    if key in CRD_SCHEMAS:
        jsonschema.Draft7Validator(_crd_schema(*key)).validate(obj)
    else:
        kubernetes_validate.validate(obj, kube_version, strict=True)
