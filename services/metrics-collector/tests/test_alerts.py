"""Alert rules: raised once after the threshold held for its duration, resolved once."""

import itertools

import pytest
from pydantic import ValidationError
from switchboard_contracts.dashboard import DashboardMetrics
from switchboard_metrics_collector.alerts import DEFAULT_RULES, AlertEvaluator, AlertRule

CPU_HIGH = AlertRule(
    name="cpu-high", metric="cpuUsage", above=90, for_seconds=10, severity="critical"
)


def metrics(cpu: float = 10.0, connections: int = 5, at: int = 0) -> DashboardMetrics:
    return DashboardMetrics(
        cpu_usage=cpu,
        memory_usage=50,
        memory_total=1000,
        disk_usage=50,
        uptime=100,
        active_connections=connections,
        requests_per_second=1,
        timestamp=at,
    )


def evaluator(*rules: AlertRule) -> AlertEvaluator:
    ids = (f"alert-{n}" for n in itertools.count(1))
    return AlertEvaluator(rules, new_id=lambda: next(ids))


def test_a_breach_shorter_than_the_duration_raises_nothing() -> None:
    rules = evaluator(CPU_HIGH)
    for second in range(10):
        assert rules.evaluate(metrics(cpu=95), now=float(second)) == []
    assert rules.evaluate(metrics(cpu=50), now=10.0) == []


def test_a_breach_held_for_the_duration_raises_one_alert() -> None:
    rules = evaluator(CPU_HIGH)
    changes = [rules.evaluate(metrics(cpu=95, at=s * 1000), now=float(s)) for s in range(15)]
    raised = [alert for change in changes for alert in change]
    assert [changes.index(c) for c in changes if c] == [10]
    [alert] = raised
    assert alert.id == "alert-1"
    assert alert.severity == "critical"
    assert alert.resolved is False
    assert alert.timestamp == 10_000
    assert alert.rule == "cpu-high"
    assert "cpuUsage is 95 %" in alert.message
    assert rules.active() == [alert]


def test_recovery_resolves_the_alert_once_with_the_same_id() -> None:
    rules = evaluator(CPU_HIGH)
    for second in range(11):
        rules.evaluate(metrics(cpu=95), now=float(second))
    [resolved] = rules.evaluate(metrics(cpu=40, at=12_000), now=12.0)
    assert resolved.id == "alert-1"
    assert resolved.resolved is True
    assert resolved.timestamp == 12_000
    assert rules.evaluate(metrics(cpu=40), now=13.0) == []
    assert rules.active() == []


def test_a_dip_restarts_the_duration() -> None:
    rules = evaluator(CPU_HIGH)
    for second in range(9):
        rules.evaluate(metrics(cpu=95), now=float(second))
    rules.evaluate(metrics(cpu=80), now=9.0)
    assert all(rules.evaluate(metrics(cpu=95), now=float(s)) == [] for s in range(10, 20))
    assert len(rules.evaluate(metrics(cpu=95), now=20.0)) == 1


def test_a_second_breach_raises_a_new_alert() -> None:
    rules = evaluator(CPU_HIGH)
    rules.evaluate(metrics(cpu=95), now=0.0)
    rules.evaluate(metrics(cpu=95), now=10.0)
    rules.evaluate(metrics(cpu=5), now=11.0)
    rules.evaluate(metrics(cpu=95), now=12.0)
    [again] = rules.evaluate(metrics(cpu=95), now=22.0)
    assert again.id == "alert-2"


def test_a_below_rule_and_a_rule_without_duration() -> None:
    few = AlertRule(name="few", metric="activeConnections", below=1, severity="info", title="Idle")
    rules = evaluator(few)
    [alert] = rules.evaluate(metrics(connections=0), now=0.0)
    assert alert.title == "Idle"
    assert alert.severity == "info"
    assert "below 1" in alert.message


def test_rules_are_independent() -> None:
    rules = evaluator(CPU_HIGH, AlertRule(name="conns", metric="activeConnections", above=3))
    [conns] = rules.evaluate(metrics(cpu=95, connections=5), now=0.0)
    assert conns.rule == "conns"
    [cpu] = rules.evaluate(metrics(cpu=95, connections=5), now=10.0)
    assert cpu.rule == "cpu-high"


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"name": "x", "metric": "cpuUsage"}, "exactly one"),
        ({"name": "x", "metric": "cpuUsage", "above": 1, "below": 2}, "exactly one"),
        ({"name": "x", "metric": "heat", "above": 1}, "metric"),
        ({"name": "a.b", "metric": "cpuUsage", "above": 1}, "name"),
        ({"name": "x", "metric": "cpuUsage", "above": 1, "severity": "dire"}, "severity"),
    ],
)
def test_a_bad_rule_is_refused_naming_the_problem(fields: dict[str, object], named: str) -> None:
    with pytest.raises(ValidationError, match=named):
        AlertRule.model_validate(fields)


def test_the_default_rules_include_cpu_above_90_for_10_seconds_as_critical() -> None:
    [cpu] = [rule for rule in DEFAULT_RULES if rule.metric == "cpuUsage"]
    assert (cpu.above, cpu.for_seconds, cpu.severity) == (90, 10, "critical")
