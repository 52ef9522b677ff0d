from switchboard_contracts import ServiceReport
from switchboard_metrics_collector.cluster import ClusterView


def report(instance: str, timestamp: int, connections: int) -> ServiceReport:
    return ServiceReport(
        service="gateway", instance=instance, timestamp=timestamp, active_connections=connections
    )


def test_connections_are_summed_over_instances_using_each_ones_latest_report() -> None:
    view = ClusterView(stale_after_ms=5000)
    view.record(report("gw-1", 1000, 3))
    view.record(report("gw-2", 1000, 4))
    view.record(report("gw-1", 2000, 5))
    assert view.active_connections(now_ms=2000) == 9


def test_an_instance_that_stopped_reporting_drops_out() -> None:
    view = ClusterView(stale_after_ms=5000)
    view.record(report("gw-1", 1000, 3))
    view.record(report("gw-2", 7000, 4))
    assert view.active_connections(now_ms=7000) == 4
