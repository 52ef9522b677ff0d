"""Log records are relayed to dashboards under a cluster-wide limit."""

from switchboard_contracts.dashboard import LogEntry, LogRecord
from switchboard_metrics_collector.log_relay import LogRelay


def record(message: str, source: str = "chat") -> LogRecord:
    return LogRecord(level="error", message=message, source=source, instance="chat-1", timestamp=5)


def test_a_record_becomes_a_log_entry() -> None:
    [entry] = LogRelay(10, 10).relay(record("boom"), now=0.0)
    assert entry == LogEntry(
        level="error", message="boom", source="chat", instance="chat-1", timestamp=5
    )


def test_beyond_the_limit_records_are_dropped_and_the_drop_is_reported_once() -> None:
    relay = LogRelay(rate_per_second=1, burst=2)
    relayed = [relay.relay(record(f"m{n}"), now=0.0) for n in range(5)]
    assert [len(entries) for entries in relayed] == [1, 1, 0, 0, 0]
    notice, entry = relay.relay(record("later"), now=1.0)
    assert notice.source == "metrics-collector"
    assert notice.level == "warning"
    assert "3 log records were dropped" in notice.message
    assert entry.message == "later"


def test_a_record_whose_source_cannot_be_a_subject_token_is_dropped() -> None:
    assert LogRelay(10, 10).relay(record("x", source="a.b"), now=0.0) == []
