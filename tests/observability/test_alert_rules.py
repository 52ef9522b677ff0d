"""The alert rules shipped with the chart: valid for Prometheus, and each fires when it should."""

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from switchboard_devstack.prometheus_server import promtool_binary

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy/helm/switchboard/rules/switchboard.rules.yaml"
RULE_TESTS = Path(__file__).with_name("switchboard.rules.test.yaml")

needs_promtool = pytest.mark.skipif(
    promtool_binary() is None,
    reason="promtool (Debian package prometheus) is missing: run scripts/system-deps.sh",
)


def load_rules() -> dict[str, Any]:
    rules: dict[str, Any] = yaml.safe_load(RULES.read_text())
    return rules


@needs_promtool
def test_promtool_accepts_the_alert_rules() -> None:
    checked = subprocess.run(
        [str(promtool_binary()), "check", "rules", str(RULES)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout


@needs_promtool
def test_each_alert_fires_on_its_failure_and_not_on_a_healthy_system() -> None:
    tested = subprocess.run(
        [str(promtool_binary()), "test", "rules", RULE_TESTS.name],
        capture_output=True,
        text=True,
        cwd=RULE_TESTS.parent,
        check=False,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_every_alert_has_a_severity_a_summary_and_a_description() -> None:
    alerts = [rule for group in load_rules()["groups"] for rule in group["rules"]]
    assert alerts
    for alert in alerts:
        assert alert["labels"]["severity"] in {"warning", "critical"}, alert["alert"]
        assert alert["annotations"]["summary"], alert["alert"]
        assert alert["annotations"]["description"], alert["alert"]


def test_the_alerts_the_issue_asks_for_are_there() -> None:
    names = {rule["alert"] for group in load_rules()["groups"] for rule in group["rules"]}
    assert {
        "SwitchboardServiceDown",
        "SwitchboardDeliveryLatencyHigh",
        "SwitchboardConsumerLagHigh",
        "SwitchboardSlowClientDisconnects",
        "SwitchboardBusHandlerErrors",
        "SwitchboardHttpServerErrors",
    } <= names
