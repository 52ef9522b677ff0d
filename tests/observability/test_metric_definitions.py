"""Every Switchboard metric, as defined in code: named by the scheme, with bounded labels, and
covering what the shipped dashboards and alert rules use."""

import importlib
import json
from pathlib import Path

import yaml
from prometheus_client import REGISTRY
from prometheus_client.metrics_core import Metric
from switchboard_devstack.promql import dashboard_exprs, metric_names_in, rule_exprs

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy/helm/switchboard"

METRICS_MODULES = (
    "switchboard_runtime.telemetry.metrics",
    "switchboard_gateway.metrics",
    "switchboard_chat.metrics",
    "switchboard_notification.metrics",
    "switchboard_persistence.metrics",
    "switchboard_metrics_collector.metrics",
)
SUBSYSTEMS = {
    "gateway",
    "chat",
    "notification",
    "persistence",
    "metrics_collector",
    "bus",
    "nats",
    "jetstream",
    "http",
    "log",
    "build",
    "process",
}
# Bounded by construction; a room, user, connection or message id must never be a label.
ALLOWED_LABELS = {
    "service",
    "generation",
    "version",
    "transport",
    "type",
    "code",
    "kind",
    "outcome",
    "subject",
    "method",
    "route",
    "level",
    "stream",
    "consumer",
    "table",
    "severity",
}
UNITS = ("_seconds", "_messages", "_bytes")
_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}


def families() -> list[Metric]:
    for module in METRICS_MODULES:
        importlib.import_module(module)
    return [m for m in REGISTRY.collect() if m.name.startswith("switchboard_")]


def label_names(family: Metric) -> set[str]:
    """The labels of a family, read from its collector (children may not exist yet)."""
    collector = REGISTRY._names_to_collectors[family.name]
    return set(getattr(collector, "_labelnames", ()))


def test_every_metric_is_named_switchboard_subsystem_name_unit() -> None:
    found = families()
    assert len(found) > 30
    for family in found:
        subsystem = family.name.removeprefix("switchboard_")
        assert any(subsystem.startswith(s + "_") for s in SUBSYSTEMS), family.name
        if family.type == "histogram":
            assert family.name.endswith(UNITS), f"{family.name}: a histogram names its unit"
        assert family.documentation.strip(), f"{family.name} has no help text"


def test_counters_are_exported_with_total() -> None:
    for family in families():
        if family.type == "counter":
            assert all(s.name == f"{family.name}_total" for s in family.samples), family.name


def test_labels_are_bounded() -> None:
    for family in families():
        assert label_names(family) <= ALLOWED_LABELS, family.name


def defined_series_names() -> set[str]:
    names: set[str] = set()
    for family in families():
        names.add(family.name)
        names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ()))
    return names


def test_every_metric_the_dashboards_and_rules_use_is_defined_in_code() -> None:
    exprs = [
        expr
        for path in sorted((CHART / "dashboards").glob("*.json"))
        for expr in dashboard_exprs(json.loads(path.read_text()))
    ]
    exprs += rule_exprs(yaml.safe_load((CHART / "rules/switchboard.rules.yaml").read_text()))
    used = metric_names_in(exprs)
    assert len(used) > 20
    assert used - defined_series_names() == set()
