"""Cluster-wide figures from each instance's latest report. Pure: fed reports, asked totals."""

from collections.abc import Callable
from dataclasses import dataclass

from switchboard_contracts import ServiceReport

__all__ = ["ClusterView"]

Sees = Callable[[str], bool]


def _everything(_: str) -> bool:
    return True


@dataclass(frozen=True)
class _Latest:
    report: ServiceReport
    requests_per_second: float


class ClusterView:
    """Keeps each instance's latest report and its request rate (from the two latest reports);
    an instance silent for ``stale_after_ms`` drops out."""

    def __init__(self, stale_after_ms: int) -> None:
        self._stale_after_ms = stale_after_ms
        self._latest: dict[str, _Latest] = {}

    def record(self, report: ServiceReport) -> None:
        previous = self._latest.get(report.instance)
        rate = 0.0
        if previous is not None:
            elapsed_ms = report.timestamp - previous.report.timestamp
            if elapsed_ms <= 0:
                return  # out of order or repeated: keep the newer one
            served = report.requests_total - previous.report.requests_total
            if served < 0:  # the instance restarted under the same name: its counter did too
                served = report.requests_total
            rate = served * 1000 / elapsed_ms
        self._latest[report.instance] = _Latest(report, rate)

    def _live(self, now_ms: int) -> list[_Latest]:
        cutoff = now_ms - self._stale_after_ms
        self._latest = {k: v for k, v in self._latest.items() if v.report.timestamp >= cutoff}
        return list(self._latest.values())

    def live(self, now_ms: int) -> list[ServiceReport]:
        return [latest.report for latest in self._live(now_ms)]

    def active_connections(self, now_ms: int, sees: Sees = _everything) -> int:
        return sum(
            latest.report.active_connections
            for latest in self._live(now_ms)
            if sees(latest.report.service)
        )

    def requests_per_second(self, now_ms: int, sees: Sees = _everything) -> float:
        rate = sum(
            latest.requests_per_second
            for latest in self._live(now_ms)
            if sees(latest.report.service)
        )
        return round(rate, 2)
