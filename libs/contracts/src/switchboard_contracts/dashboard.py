"""Live dashboards on the bus: metrics views, alerts and log records (docs/protocol.md §5).

services -> metrics-collector: ``LogRecord`` on ``logs.record.<service>`` (and ``ServiceReport``).
metrics-collector -> gateways: ``DashboardUpdate`` on ``dashboard.metrics`` every second,
``DashboardAlert`` on ``dashboard.alert``, ``LogEntry`` on ``dashboard.log.<level>.<source>``.
"""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from switchboard_contracts.message import BusMessage

__all__ = [
    "ALL_SOURCES",
    "DEFAULT_VIEW",
    "LOG_LEVELS",
    "AlertSeverity",
    "DashboardAlert",
    "DashboardMetrics",
    "DashboardUpdate",
    "LogEntry",
    "LogLevel",
    "LogRecord",
    "TeamView",
    "level_rank",
]

LogLevel = Literal["debug", "info", "warning", "error", "critical"]
LOG_LEVELS: tuple[LogLevel, ...] = ("debug", "info", "warning", "error", "critical")
AlertSeverity = Literal["info", "warning", "critical"]

DEFAULT_VIEW = "*"
"""The key of the view every team without a configuration of its own sees (everything)."""

ALL_SOURCES = "*"
"""In a view's ``sources``: every source."""

MAX_LOG_MESSAGE_LENGTH = 2000

Percent = Annotated[float, Field(ge=0, le=100)]


def level_rank(level: str) -> int:
    """The order of a level (``debug`` lowest); unknown levels rank with ``info``."""
    return LOG_LEVELS.index(level) if level in LOG_LEVELS else 1


class DashboardMetrics(BaseModel):
    """One second of a view: the host's figures and the cluster's, as clients see them."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    cpu_usage: Percent
    memory_usage: Percent
    memory_total: int
    disk_usage: Percent
    uptime: float
    active_connections: int
    requests_per_second: float
    timestamp: int


class TeamView(BaseModel):
    """What one team sees: its sources (``["*"]`` for all) and the metrics aggregated over them."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    sources: tuple[str, ...] = (ALL_SOURCES,)
    metrics: DashboardMetrics

    def sees(self, source: str) -> bool:
        return ALL_SOURCES in self.sources or source in self.sources


class DashboardAlert(BusMessage):
    """An alert raised (``resolved`` false) or, later, resolved (same ``id``, ``resolved`` true)."""

    id: str
    severity: AlertSeverity
    title: str
    message: str
    source: str
    timestamp: int
    resolved: bool = False
    rule: str = ""


class DashboardUpdate(BusMessage):
    """metrics-collector -> gateways, every second: every configured team's view, the default
    view (key ``"*"``) for all other teams, and the alerts raised and not yet resolved."""

    views: dict[str, TeamView]
    active_alerts: list[DashboardAlert] = Field(default_factory=list)

    def view(self, team: str) -> TeamView:
        return self.views.get(team) or self.views[DEFAULT_VIEW]


class LogRecord(BusMessage):
    """A service's log record, forwarded to metrics-collector (``logs.record.<service>``)."""

    level: LogLevel
    message: Annotated[str, Field(max_length=MAX_LOG_MESSAGE_LENGTH)]
    source: str
    instance: str
    logger: str = ""
    timestamp: int


class LogEntry(BusMessage):
    """metrics-collector -> gateways (``dashboard.log.<level>.<source>``): one log tail line."""

    level: LogLevel
    message: str
    source: str
    instance: str = ""
    logger: str = ""
    timestamp: int
