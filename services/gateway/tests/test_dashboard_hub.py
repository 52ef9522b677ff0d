"""SSE and /ws dashboard subscribers: current figures on join, per-team views, log filters and
conflation for clients that are behind."""

from switchboard_contracts.dashboard import (
    DEFAULT_VIEW,
    DashboardAlert,
    DashboardMetrics,
    DashboardUpdate,
    LogEntry,
    TeamView,
)
from switchboard_gateway.dashboards.conflation import ConflationPolicy
from switchboard_gateway.dashboards.feed import DashboardFeed
from switchboard_gateway.dashboards.hub import (
    SSE,
    DashboardHub,
    DashboardSubscriber,
    dashboard_team,
)
from switchboard_gateway.dashboards.log_filter import LogFilter
from switchboard_runtime import Bus, ServiceSettings


def metrics(connections: int, at: int = 1000) -> DashboardMetrics:
    return DashboardMetrics(
        cpu_usage=10,
        memory_usage=20,
        memory_total=30,
        disk_usage=40,
        uptime=50,
        active_connections=connections,
        requests_per_second=0,
        timestamp=at,
    )


def update(at: int = 1000, alerts: list[DashboardAlert] | None = None) -> DashboardUpdate:
    return DashboardUpdate(
        views={
            DEFAULT_VIEW: TeamView(metrics=metrics(9, at)),
            "chat-team": TeamView(sources=("chat",), metrics=metrics(1, at)),
        },
        active_alerts=alerts or [],
    )


ALERT = DashboardAlert(
    id="a1", severity="critical", title="t", message="m", source="gateway", timestamp=1
)


class Client:
    """A subscriber whose outbox holds ``queued`` frames it has not read yet."""

    def __init__(self, team: str, logs: LogFilter | None = None, form: str = "ws") -> None:
        self.received: list[str] = []
        self.queued = 0
        self.subscriber = DashboardSubscriber(
            team,
            self.received.append,
            lambda: self.queued,
            SSE if form == "sse" else "ws",
            logs,
        )


def hub() -> tuple[DashboardHub, DashboardFeed]:
    feed = DashboardFeed(Bus(ServiceSettings(), name="test"))  # never connected
    return DashboardHub(feed, ConflationPolicy(metrics_max_backlog=1, logs_max_backlog=3)), feed


def test_dashboard_rooms_name_a_team() -> None:
    assert dashboard_team("dashboard:ops") == "ops"
    assert dashboard_team("lobby") is None
    assert dashboard_team("dashboard:a.b") is None


async def test_a_new_subscriber_gets_current_metrics_and_active_alerts_at_once() -> None:
    dashboards, feed = hub()
    feed.latest = update(alerts=[ALERT])
    ops, chat = Client("ops"), Client("chat-team")
    dashboards.join(ops.subscriber)
    dashboards.join(chat.subscriber)
    assert [f.split('"type":"')[1].split('"')[0] for f in ops.received] == [
        "metrics-update",
        "alert",
    ]
    assert '"activeConnections":9' in ops.received[0]
    assert '"room":"dashboard:ops"' in ops.received[0]
    assert len(chat.received) == 1  # the alert is from a source chat-team does not see
    assert '"activeConnections":1' in chat.received[0]


async def test_each_team_gets_its_own_view_every_update() -> None:
    dashboards, _ = hub()
    ops, chat = Client("ops", form="sse"), Client("chat-team", form="sse")
    dashboards.join(ops.subscriber)
    dashboards.join(chat.subscriber)
    await dashboards.on_update(update())
    [at_ops], [at_chat] = ops.received, chat.received
    assert at_ops.startswith("event: metrics-update\n")
    assert '"activeConnections":9' in at_ops
    assert '"activeConnections":1' in at_chat


async def test_a_subscriber_that_is_behind_gets_the_latest_metrics_not_a_backlog() -> None:
    dashboards, _ = hub()
    slow = Client("ops")
    dashboards.join(slow.subscriber)
    slow.queued = 5
    for second in range(1, 4):
        await dashboards.on_update(update(at=second * 1000))
    assert slow.received == []
    slow.queued = 0
    await dashboards.on_update(update(at=4000))
    [frame] = slow.received
    assert '"timestamp":4000' in frame


async def test_logs_reach_subscribers_whose_team_sees_the_source_and_filter_matches() -> None:
    dashboards, feed = hub()
    feed.latest = update()
    everything, errors, chat = (
        Client("ops"),
        Client("ops", LogFilter(level="error")),
        Client("chat-team"),
    )
    for client in (everything, errors, chat):
        dashboards.join(client.subscriber)
        client.received.clear()
    await dashboards.on_log(LogEntry(level="info", message="i", source="gateway", timestamp=1))
    await dashboards.on_log(LogEntry(level="error", message="e", source="chat", timestamp=2))
    assert len(everything.received) == 2
    assert ['"message":"e"' in f for f in errors.received] == [True]
    assert ['"message":"e"' in f for f in chat.received] == [True]


async def test_log_entries_are_dropped_for_a_subscriber_far_behind_but_alerts_are_not() -> None:
    dashboards, feed = hub()
    feed.latest = update()
    slow = Client("ops")
    dashboards.join(slow.subscriber)
    slow.received.clear()
    slow.queued = 4
    await dashboards.on_log(LogEntry(level="info", message="i", source="gateway", timestamp=1))
    await dashboards.on_alert(ALERT)
    [frame] = slow.received
    assert '"type":"alert"' in frame


async def test_a_subscriber_that_left_gets_nothing() -> None:
    dashboards, _ = hub()
    client = Client("ops")
    dashboards.join(client.subscriber)
    dashboards.leave(client.subscriber)
    dashboards.leave(client.subscriber)  # twice is harmless
    await dashboards.on_update(update())
    assert client.received == []
    assert dashboards.subscriber_count() == 0


async def test_draining_ends_the_streams_that_would_not_end_by_themselves() -> None:
    dashboards, _ = hub()
    ended: list[str] = []
    stream = DashboardSubscriber("ops", lambda _: None, form=SSE, close=lambda: ended.append("x"))
    socket = DashboardSubscriber("ops", lambda _: None)
    dashboards.join(stream)
    dashboards.join(socket)
    dashboards.drain()
    assert ended == ["x"]
