"""Dashboard events as clients see them (docs/protocol.md §5). Pure: payloads and encodings.

One ``DashboardEvent`` is made per bus message (per team, for metrics) and encoded once into
JSON; the SSE form and each ``/ws`` room's frame are derived from that text and cached, so a
gateway encodes an event once, not once per client.
"""

from typing import Any, Literal

from switchboard_contracts.dashboard import DashboardAlert, DashboardMetrics, LogEntry
from switchboard_contracts.input_rules import dump_json

__all__ = [
    "ALERT",
    "LOG_ENTRY",
    "METRICS_UPDATE",
    "DashboardEvent",
    "EventKind",
    "alert_payload",
    "log_payload",
    "metrics_payload",
]

EventKind = Literal["metrics-update", "alert", "log-entry"]
METRICS_UPDATE: EventKind = "metrics-update"
ALERT: EventKind = "alert"
LOG_ENTRY: EventKind = "log-entry"

ROOM_PREFIX = "dashboard:"


def metrics_payload(metrics: DashboardMetrics) -> dict[str, Any]:
    return {
        "cpuUsage": metrics.cpu_usage,
        "memoryUsage": metrics.memory_usage,
        "memoryTotal": metrics.memory_total,
        "diskUsage": metrics.disk_usage,
        "uptime": metrics.uptime,
        "activeConnections": metrics.active_connections,
        "requestsPerSecond": metrics.requests_per_second,
        "timestamp": metrics.timestamp,
    }


def alert_payload(alert: DashboardAlert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "severity": alert.severity,
        "title": alert.title,
        "message": alert.message,
        "source": alert.source,
        "timestamp": alert.timestamp,
        "resolved": alert.resolved,
    }


def log_payload(entry: LogEntry) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "level": entry.level,
        "message": entry.message,
        "source": entry.source,
        "timestamp": entry.timestamp,
    }
    if entry.instance:
        payload["instance"] = entry.instance
    return payload


class DashboardEvent:
    def __init__(self, kind: EventKind, payload: dict[str, Any]) -> None:
        self.kind = kind
        self.payload = payload
        self.json = dump_json(payload)
        self._sse: str | None = None
        self._frames: dict[str, str] = {}

    @property
    def timestamp(self) -> int:
        return int(self.payload["timestamp"])

    def sse(self) -> str:
        """The Server-Sent Events form: ``event: <kind>`` and the payload as ``data``."""
        if self._sse is None:
            self._sse = f"event: {self.kind}\ndata: {self.json}\n\n"
        return self._sse

    def frame(self, team: str) -> str:
        """The ``/ws`` frame for the room ``dashboard:<team>``."""
        text = self._frames.get(team)
        if text is None:
            room = dump_json(ROOM_PREFIX + team)
            text = (
                f'{{"type":"{self.kind}","room":{room},'
                f'"timestamp":{self.timestamp},"payload":{self.json}}}'
            )
            self._frames[team] = text
        return text
