"""Which metrics the shipped dashboards and alert rules use, and which a service exports."""

import re
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

__all__ = ["dashboard_exprs", "exported_names", "metric_names_in", "rule_exprs"]

_SWITCHBOARD_METRIC = re.compile(r"\bswitchboard_[a-z0-9_]+\b")
_SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_count", "_sum"),
    "summary": ("_count", "_sum"),
}


def metric_names_in(exprs: Iterable[str]) -> set[str]:
    """Every ``switchboard_*`` series name the PromQL expressions select."""
    return {name for expr in exprs for name in _SWITCHBOARD_METRIC.findall(expr)}


def _walk_panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _walk_panels(panel.get("panels", []))


def dashboard_exprs(dashboard: dict[str, Any]) -> list[str]:
    """The ``expr`` of every target of every panel (rows included) of a Grafana dashboard."""
    return [
        target["expr"]
        for panel in _walk_panels(dashboard.get("panels", []))
        for target in panel.get("targets", [])
        if "expr" in target
    ]


def rule_exprs(rules: dict[str, Any]) -> list[str]:
    """The ``expr`` of every rule of a Prometheus rules file (``groups:``)."""
    return [str(rule["expr"]) for group in rules["groups"] for rule in group["rules"]]


def exported_names(exposition: str) -> set[str]:
    """Every series name a ``/metrics`` text can hold: families without samples yet included."""
    names: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        names.add(family.name)
        names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ()))
        names.update(sample.name for sample in family.samples)
    return names
