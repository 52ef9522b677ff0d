"""Every metric the shipped dashboards and alert rules use is one the running services export."""

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from switchboard_devstack import Stack
from switchboard_devstack.promql import exported_names

from tests.deploy.chart import CHART_DIR, find, load_yaml, manifests

# Prometheus adds these to every target itself.
SCRAPE_METRICS = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
PROMQL_WORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan", "group_left", "group_right"}
FULL_VALUES = load_yaml(CHART_DIR / "ci" / "full-values.yaml")


def promql_metrics(expr: str) -> set[str]:
    """The metric names a PromQL expression (or Grafana's label_values query) reads."""
    expr = re.sub(r"label_values\((.*),\s*\w+\s*\)", r"\1", expr)  # drop the label argument
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # strings (label values, regexes)
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range selectors
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = set()
    for match in re.finditer(r"(?<![\w$.:])([A-Za-z_:][\w:]*)(\s*\()?", expr):
        name, is_call = match.group(1), match.group(2)
        if not is_call and name.lower() not in PROMQL_WORDS:
            names.add(name)
    return names


def test_promql_metrics_finds_metrics_not_functions_labels_or_variables() -> None:
    assert promql_metrics(
        'sum by (job, pod) (rate(process_cpu_seconds_total{namespace="$ns", job=~"a|b"}'
        "[$__rate_interval])) / on (pod) group_left process_max_fds > 0.8 * 1e3"
    ) == {"process_cpu_seconds_total", "process_max_fds"}
    assert promql_metrics("absent(up{job='x'} == 1) or vector(0)") == {"up"}
    assert promql_metrics('label_values(process_start_time_seconds{ns="$n"}, job)') == {
        "process_start_time_seconds"
    }


def _dashboard_queries(dashboard: dict[str, Any]) -> Iterator[str]:
    panels = list(dashboard.get("panels", []))
    while panels:
        panel = panels.pop()
        panels.extend(panel.get("panels", []))  # rows
        yield from (target["expr"] for target in panel.get("targets", []) if "expr" in target)
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            query = variable["query"]
            yield query["query"] if isinstance(query, dict) else query


def shipped_queries() -> dict[str, str]:
    """Every PromQL query in the rendered alert rules and dashboards, by where it is."""
    objects = manifests(FULL_VALUES)
    queries = {}
    for rule_object in find(objects, "PrometheusRule"):
        for group in rule_object["spec"]["groups"]:
            for rule in group["rules"]:
                queries[f"rule {rule['alert']}: {rule['expr']}"] = rule["expr"]
    for config_map in find(objects, "ConfigMap"):
        for file, text in config_map["data"].items():
            for query in _dashboard_queries(json.loads(text)):
                queries[f"dashboard {file}: {query}"] = query
    return queries


def test_rules_and_dashboards_are_shipped_with_queries() -> None:
    where = {key.split(":", 1)[0].split(" ")[0] for key in shipped_queries()}
    assert where == {"rule", "dashboard"}


@pytest.mark.component
def test_every_metric_in_dashboards_and_rules_is_exported(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()
    stack.add_all()
    stack.start()
    exported = set(SCRAPE_METRICS)
    for handle in stack.services.values():
        response = httpx.get(f"{handle.url}/metrics", timeout=5.0)
        response.raise_for_status()
        # declared families count too: a labelled histogram has no samples until first observed
        exported |= exported_names(response.text)

    missing = {
        where: sorted(promql_metrics(query) - exported)
        for where, query in shipped_queries().items()
        if promql_metrics(query) - exported
    }
    assert not missing, missing
    used = set().union(*(promql_metrics(q) for q in shipped_queries().values()))
    assert len(used) >= 5, used
