"""Per-team views: host figures for all, cluster figures over each team's sources."""

from switchboard_contracts import ServiceReport
from switchboard_contracts.dashboard import DEFAULT_VIEW
from switchboard_metrics_collector.cluster import ClusterView
from switchboard_metrics_collector.host import HostSample
from switchboard_metrics_collector.views import build_views

HOST = HostSample(cpu_usage=12.5, memory_usage=40, memory_total=1 << 33, disk_usage=70, uptime=3600)


def cluster() -> ClusterView:
    view = ClusterView(stale_after_ms=5000)
    for service, connections in (("gateway", 7), ("chat", 0), ("notification", 2)):
        view.record(
            ServiceReport(
                service=service,
                instance=f"{service}-1",
                timestamp=1000,
                active_connections=connections,
            )
        )
    return view


def test_the_default_view_sees_every_source() -> None:
    views = build_views({}, HOST, cluster(), now_ms=1000)
    assert list(views) == [DEFAULT_VIEW]
    metrics = views[DEFAULT_VIEW].metrics
    assert metrics.active_connections == 9
    assert (metrics.cpu_usage, metrics.memory_total, metrics.uptime) == (12.5, 1 << 33, 3600)
    assert metrics.timestamp == 1000


def test_a_configured_team_sees_only_its_sources() -> None:
    views = build_views({"ops": ["gateway", "chat"]}, HOST, cluster(), now_ms=1000)
    assert views["ops"].sources == ("gateway", "chat")
    assert views["ops"].metrics.active_connections == 7
    assert views["ops"].metrics.disk_usage == 70
