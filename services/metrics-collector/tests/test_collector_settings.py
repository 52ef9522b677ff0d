"""metrics-collector's settings: teams and alert rules from JSON, refused with a clear name."""

import json

import pytest
from switchboard_metrics_collector.alerts import DEFAULT_RULES
from switchboard_metrics_collector.settings import MetricsCollectorSettings
from switchboard_runtime import load_settings


def test_defaults_have_no_teams_and_the_default_rules() -> None:
    settings = MetricsCollectorSettings()
    assert settings.dashboard_teams == {}
    assert settings.alert_rules == DEFAULT_RULES


def test_teams_and_rules_come_from_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHBOARD_TEAMS", json.dumps({"ops": ["gateway", "chat"]}))
    rule = {"name": "busy", "metric": "requestsPerSecond", "above": 100, "for_seconds": 5}
    monkeypatch.setenv("ALERT_RULES", json.dumps([rule]))
    settings = load_settings(MetricsCollectorSettings)
    assert settings.dashboard_teams == {"ops": ["gateway", "chat"]}
    [busy] = settings.alert_rules
    assert (busy.name, busy.above, busy.for_seconds, busy.severity) == ("busy", 100, 5, "warning")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DASHBOARD_TEAMS", json.dumps({"ops team": ["gateway"]})),
        ("ALERT_RULES", json.dumps([{"name": "x", "metric": "cpuUsage"}])),
        ("ALERT_RULES", json.dumps([{"name": "x", "metric": "cpuUsage", "above": 1}] * 2)),
        ("ALERT_RULES", "not json"),
    ],
)
def test_a_bad_setting_stops_the_service_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SystemExit):
        load_settings(MetricsCollectorSettings)
    assert variable in capsys.readouterr().err
