from pydantic import Field, field_validator
from switchboard_contracts.ids import ID_PATTERN
from switchboard_runtime import ServiceSettings

from switchboard_metrics_collector.alerts import DEFAULT_RULES, AlertRule

__all__ = ["MetricsCollectorSettings"]


class MetricsCollectorSettings(ServiceSettings):
    http_port: int = Field(default=8084, ge=0, le=65535)
    metrics_interval_seconds: float = Field(
        default=1.0, gt=0, description="How often dashboards get metrics (and rules are checked)"
    )
    report_stale_after_seconds: float = Field(
        default=5.0, gt=0, description="An instance silent this long no longer counts"
    )
    disk_path: str = Field(default="/", description="The file system whose usage is diskUsage")
    dashboard_teams: dict[str, list[str]] = Field(
        default_factory=dict,
        description='JSON: each team\'s sources, e.g. {"payments": ["gateway", "chat"]}; '
        "teams not named see every source",
    )
    alert_rules: tuple[AlertRule, ...] = Field(
        default=DEFAULT_RULES,
        description='JSON list: [{"name", "metric", "above" | "below", "for_seconds", '
        '"severity", "title"?, "source"?}]',
    )
    log_relay_rate_per_second: float = Field(
        default=100.0,
        gt=0,
        description="Log entries relayed to dashboards per second, cluster-wide",
    )
    log_relay_burst: int = Field(default=500, ge=1)

    @field_validator("dashboard_teams")
    @classmethod
    def _ids(cls, teams: dict[str, list[str]]) -> dict[str, list[str]]:
        for team, sources in teams.items():
            for name in (team, *sources):
                if name != "*" and not ID_PATTERN.fullmatch(name):
                    raise ValueError(
                        f"{name!r}: team and source names are 1-64 letters, digits, '-' or '_'"
                    )
        return teams

    @field_validator("alert_rules")
    @classmethod
    def _unique(cls, rules: tuple[AlertRule, ...]) -> tuple[AlertRule, ...]:
        names = [rule.name for rule in rules]
        if len(set(names)) != len(names):
            raise ValueError("alert rule names must be unique")
        return rules
