"""What a dashboard client that is behind still gets. Pure.

Metrics are a state: a client with frames still queued skips this second's metrics and gets a
later, current one once it has caught up, never a growing backlog of old ones. Log entries are
dropped for a client too far behind. Alerts are rare and each one matters: always sent.
"""

from dataclasses import dataclass

from switchboard_gateway.dashboards.events import ALERT, METRICS_UPDATE, EventKind

__all__ = ["ConflationPolicy"]


@dataclass(frozen=True)
class ConflationPolicy:
    metrics_max_backlog: int = 1
    """Metrics are sent only while at most this many frames wait to be written to the client."""
    logs_max_backlog: int = 100

    def admits(self, kind: EventKind, backlog: int) -> bool:
        if kind == ALERT:
            return True
        if kind == METRICS_UPDATE:
            return backlog <= self.metrics_max_backlog
        return backlog <= self.logs_max_backlog
