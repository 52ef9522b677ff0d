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


def counted(instance: str, timestamp: int, total: int, service: str = "gateway") -> ServiceReport:
    return ServiceReport(
        service=service, instance=instance, timestamp=timestamp, requests_total=total
    )


def test_request_rate_comes_from_each_instances_two_latest_reports() -> None:
    view = ClusterView(stale_after_ms=5000)
    view.record(counted("gw-1", 1000, 100))
    view.record(counted("gw-1", 2000, 130))
    view.record(counted("chat-1", 1000, 0, "chat"))
    view.record(counted("chat-1", 1500, 5, "chat"))
    assert view.requests_per_second(now_ms=2000) == 40.0
    assert view.requests_per_second(now_ms=2000, sees=lambda s: s == "chat") == 10.0


def test_a_first_report_has_no_rate_yet() -> None:
    view = ClusterView(stale_after_ms=5000)
    view.record(counted("gw-1", 1000, 100))
    assert view.requests_per_second(now_ms=1000) == 0


def test_an_instance_restarted_under_the_same_name_starts_counting_again() -> None:
    view = ClusterView(stale_after_ms=5000)
    view.record(counted("gw-1", 1000, 500))
    view.record(counted("gw-1", 2000, 7))
    assert view.requests_per_second(now_ms=2000) == 7.0


def test_a_report_older_than_the_latest_is_ignored() -> None:
    view = ClusterView(stale_after_ms=5000)
    view.record(counted("gw-1", 1000, 10))
    view.record(counted("gw-1", 2000, 20))
    view.record(counted("gw-1", 1500, 15))
    assert view.requests_per_second(now_ms=2000) == 10.0


def test_connections_count_only_the_sources_a_view_sees() -> None:
    view = ClusterView(stale_after_ms=5000)
    view.record(report("gw-1", 1000, 3))
    view.record(
        ServiceReport(service="chat", instance="chat-1", timestamp=1000, active_connections=2)
    )
    assert view.active_connections(now_ms=1000, sees=lambda s: s == "chat") == 2
