"""A client that is behind skips metrics and, further behind, log entries; never alerts."""

from switchboard_gateway.dashboards.conflation import ConflationPolicy
from switchboard_gateway.dashboards.events import ALERT, LOG_ENTRY, METRICS_UPDATE


def test_metrics_are_skipped_while_frames_wait() -> None:
    policy = ConflationPolicy(metrics_max_backlog=1, logs_max_backlog=10)
    assert policy.admits(METRICS_UPDATE, 0)
    assert policy.admits(METRICS_UPDATE, 1)
    assert not policy.admits(METRICS_UPDATE, 2)


def test_log_entries_are_dropped_only_far_behind() -> None:
    policy = ConflationPolicy(metrics_max_backlog=1, logs_max_backlog=10)
    assert policy.admits(LOG_ENTRY, 10)
    assert not policy.admits(LOG_ENTRY, 11)


def test_alerts_are_always_sent() -> None:
    assert ConflationPolicy().admits(ALERT, 1_000_000)
