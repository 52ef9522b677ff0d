"""Cluster-wide figures from each instance's latest report. Pure: fed reports, asked totals."""

from switchboard_contracts import ServiceReport

__all__ = ["ClusterView"]


class ClusterView:
    """Keeps each instance's latest report; an instance silent for ``stale_after_ms`` drops out."""

    def __init__(self, stale_after_ms: int) -> None:
        self._stale_after_ms = stale_after_ms
        self._latest: dict[str, ServiceReport] = {}

    def record(self, report: ServiceReport) -> None:
        self._latest[report.instance] = report

    def live(self, now_ms: int) -> list[ServiceReport]:
        cutoff = now_ms - self._stale_after_ms
        self._latest = {k: r for k, r in self._latest.items() if r.timestamp >= cutoff}
        return list(self._latest.values())

    def active_connections(self, now_ms: int) -> int:
        return sum(report.active_connections for report in self.live(now_ms))
