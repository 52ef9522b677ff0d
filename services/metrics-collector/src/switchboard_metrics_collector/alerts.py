"""Alert rules: a metric beyond a threshold for a duration raises one alert; the metric back
within bounds resolves it, once. Pure: the evaluator is fed metrics and the time."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from switchboard_contracts.dashboard import AlertSeverity, DashboardAlert, DashboardMetrics
from switchboard_contracts.ids import ID_PATTERN

__all__ = ["DEFAULT_RULES", "METRICS", "AlertEvaluator", "AlertRule", "MetricName"]

MetricName = Literal[
    "cpuUsage", "memoryUsage", "diskUsage", "activeConnections", "requestsPerSecond"
]

METRICS: dict[str, str] = {
    "cpuUsage": "cpu_usage",
    "memoryUsage": "memory_usage",
    "diskUsage": "disk_usage",
    "activeConnections": "active_connections",
    "requestsPerSecond": "requests_per_second",
}
"""The metrics a rule can watch: their names in the protocol, and the field that holds them."""

UNITS = {"cpuUsage": " %", "memoryUsage": " %", "diskUsage": " %", "requestsPerSecond": "/s"}


class AlertRule(BaseModel):
    """``{"name": "cpu-high", "metric": "cpuUsage", "above": 90, "for_seconds": 10,
    "severity": "critical"}``: exactly one of ``above`` and ``below``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=f"^{ID_PATTERN.pattern}$")
    metric: MetricName
    above: float | None = None
    below: float | None = None
    for_seconds: float = Field(default=0, ge=0)
    severity: AlertSeverity = "warning"
    title: str = ""
    source: str = "metrics-collector"

    @model_validator(mode="after")
    def _one_threshold(self) -> Self:
        if (self.above is None) == (self.below is None):
            raise ValueError(f"alert rule {self.name!r} needs exactly one of 'above' and 'below'")
        return self

    def value(self, metrics: DashboardMetrics) -> float:
        return float(getattr(metrics, METRICS[self.metric]))

    def breached(self, value: float) -> bool:
        if self.above is not None:
            return value > self.above
        assert self.below is not None
        return value < self.below

    def describe(self, value: float) -> str:
        unit = UNITS.get(self.metric, "")
        side, limit = ("above", self.above) if self.above is not None else ("below", self.below)
        return (
            f"{self.metric} is {value:g}{unit}, {side} {limit:g}{unit} for {self.for_seconds:g} s"
        )

    def heading(self) -> str:
        if self.title:
            return self.title
        side, limit = (">", self.above) if self.above is not None else ("<", self.below)
        return f"{self.metric} {side} {limit:g}"


DEFAULT_RULES: tuple[AlertRule, ...] = (
    AlertRule(
        name="cpu-high",
        metric="cpuUsage",
        above=90,
        for_seconds=10,
        severity="critical",
        title="CPU usage above 90 %",
    ),
    AlertRule(
        name="memory-high",
        metric="memoryUsage",
        above=90,
        for_seconds=30,
        severity="warning",
        title="Memory usage above 90 %",
    ),
    AlertRule(
        name="disk-high",
        metric="diskUsage",
        above=90,
        for_seconds=60,
        severity="warning",
        title="Disk usage above 90 %",
    ),
)


@dataclass
class _State:
    breached_since: float | None = None
    alert: DashboardAlert | None = None


class AlertEvaluator:
    def __init__(
        self, rules: tuple[AlertRule, ...], new_id: Callable[[], str] = lambda: uuid.uuid4().hex
    ) -> None:
        self._rules = rules
        self._new_id = new_id
        self._states = {rule.name: _State() for rule in rules}

    def evaluate(self, metrics: DashboardMetrics, now: float) -> list[DashboardAlert]:
        """The alerts raised and resolved by this sample; ``now`` in seconds (any clock)."""
        changes = []
        for rule in self._rules:
            state = self._states[rule.name]
            value = rule.value(metrics)
            if rule.breached(value):
                if state.breached_since is None:
                    state.breached_since = now
                if state.alert is None and now - state.breached_since >= rule.for_seconds:
                    state.alert = DashboardAlert(
                        id=self._new_id(),
                        severity=rule.severity,
                        title=rule.heading(),
                        message=rule.describe(value),
                        source=rule.source,
                        timestamp=metrics.timestamp,
                        rule=rule.name,
                    )
                    changes.append(state.alert)
            else:
                state.breached_since = None
                if state.alert is not None:
                    changes.append(
                        state.alert.model_copy(
                            update={
                                "resolved": True,
                                "timestamp": metrics.timestamp,
                                "message": f"resolved: {rule.metric} is {value:g} again",
                            }
                        )
                    )
                    state.alert = None
        return changes

    def active(self) -> list[DashboardAlert]:
        return [state.alert for state in self._states.values() if state.alert is not None]
