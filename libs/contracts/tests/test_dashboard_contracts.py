"""Dashboard messages round-trip, views answer for any team, and their subjects are safe."""

import pytest
from switchboard_contracts import BusMessage, InvalidIdError, subjects
from switchboard_contracts.dashboard import (
    DEFAULT_VIEW,
    DashboardAlert,
    DashboardMetrics,
    DashboardUpdate,
    LogEntry,
    LogRecord,
    TeamView,
    level_rank,
)

METRICS = DashboardMetrics(
    cpu_usage=12.5,
    memory_usage=40.25,
    memory_total=8_000_000_000,
    disk_usage=70.0,
    uptime=1234.5,
    active_connections=3,
    requests_per_second=4.5,
    timestamp=1764150000000,
)
ALERT = DashboardAlert(
    id="a1",
    severity="critical",
    title="CPU usage above 90 %",
    message="cpuUsage is 95 %",
    source="metrics-collector",
    timestamp=1764150000000,
    rule="cpu-high",
)
UPDATE = DashboardUpdate(
    views={
        DEFAULT_VIEW: TeamView(metrics=METRICS),
        "payments": TeamView(sources=("gateway", "chat"), metrics=METRICS),
    },
    active_alerts=[ALERT],
)

SAMPLES: list[BusMessage] = [
    UPDATE,
    ALERT,
    ALERT.model_copy(update={"resolved": True}),
    LogRecord(level="warning", message="m", source="chat", instance="chat-1", timestamp=1),
    LogEntry(level="error", message="m", source="chat", instance="chat-1", timestamp=1),
]


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
def test_dashboard_message_round_trips_through_json(message: BusMessage) -> None:
    assert type(message).decode(message.encode()) == message


def test_a_team_without_a_view_of_its_own_gets_the_default_view() -> None:
    assert UPDATE.view("anyone") == UPDATE.views[DEFAULT_VIEW]
    assert UPDATE.view("payments").sources == ("gateway", "chat")


def test_a_view_sees_its_sources_or_everything() -> None:
    assert UPDATE.view("anyone").sees("persistence")
    assert UPDATE.view("payments").sees("chat")
    assert not UPDATE.view("payments").sees("persistence")


def test_percentages_outside_0_to_100_are_refused() -> None:
    with pytest.raises(ValueError, match="cpu_usage"):
        METRICS.model_validate({**METRICS.model_dump(), "cpu_usage": 101})


def test_levels_are_ordered_from_debug_to_critical() -> None:
    ranks = [level_rank(level) for level in ("debug", "info", "warning", "error", "critical")]
    assert ranks == sorted(ranks)
    assert len(set(ranks)) == 5


def test_dashboard_subjects() -> None:
    assert subjects.logs_record("metrics-collector") == "logs.record.metrics-collector"
    assert subjects.dashboard_log("error", "chat") == "dashboard.log.error.chat"
    assert subjects.dashboard_log("error", "chat").startswith(
        subjects.DASHBOARD_LOG_ALL.removesuffix(">")
    )


@pytest.mark.parametrize("bad", ["", "a.b", "*", ">", "a b"])
def test_dashboard_subject_tokens_that_would_break_a_subject_are_refused(bad: str) -> None:
    with pytest.raises(InvalidIdError, match="source"):
        subjects.dashboard_log("info", bad)
    with pytest.raises(InvalidIdError, match="service"):
        subjects.logs_record(bad)
