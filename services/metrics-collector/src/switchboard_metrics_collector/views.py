"""Per-team dashboard views: a team sees the sources configured for it, others see everything.
Pure: the host sample and the cluster view in, every view out."""

from collections.abc import Mapping, Sequence

from switchboard_contracts.dashboard import (
    ALL_SOURCES,
    DEFAULT_VIEW,
    DashboardMetrics,
    TeamView,
)

from switchboard_metrics_collector.cluster import ClusterView
from switchboard_metrics_collector.host import HostSample

__all__ = ["build_views"]


def _view(sources: Sequence[str], host: HostSample, cluster: ClusterView, now_ms: int) -> TeamView:
    def sees(source: str) -> bool:
        return ALL_SOURCES in sources or source in sources

    metrics = DashboardMetrics(
        cpu_usage=host.cpu_usage,
        memory_usage=host.memory_usage,
        memory_total=host.memory_total,
        disk_usage=host.disk_usage,
        uptime=host.uptime,
        active_connections=cluster.active_connections(now_ms, sees),
        requests_per_second=cluster.requests_per_second(now_ms, sees),
        timestamp=now_ms,
    )
    return TeamView(sources=tuple(sources), metrics=metrics)


def build_views(
    teams: Mapping[str, Sequence[str]], host: HostSample, cluster: ClusterView, now_ms: int
) -> dict[str, TeamView]:
    """The default view (key ``"*"``, every source) and one per configured team."""
    views = {DEFAULT_VIEW: _view((ALL_SOURCES,), host, cluster, now_ms)}
    for team, sources in teams.items():
        views[team] = _view(sources, host, cluster, now_ms)
    return views
