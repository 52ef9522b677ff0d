"""Which Socket.IO clients get which dashboard event."""

from switchboard_contracts.dashboard import LogEntry
from switchboard_gateway.dashboards.log_filter import LogFilter
from switchboard_gateway.dashboards.socketio_audience import LogSubscription, SocketIoAudience


def sees(team: str, source: str) -> bool:
    return team != "chat-team" or source == "chat"


def entry(level: str, source: str) -> LogEntry:
    return LogEntry.model_validate(
        {"level": level, "message": "m", "source": source, "timestamp": 1}
    )


def test_a_client_in_two_teams_gets_an_alert_once() -> None:
    audience = SocketIoAudience()
    audience.join_team("a", "ops")
    audience.join_team("a", "chat-team")
    audience.join_team("b", "chat-team")
    assert audience.alert_recipients("chat", sees) == ["a", "b"]
    assert audience.alert_recipients("gateway", sees) == ["a"]


def test_leaving_every_team_on_disconnect() -> None:
    audience = SocketIoAudience()
    audience.join_team("a", "ops")
    audience.join_team("b", "ops")
    audience.leave_all_teams("a")
    assert audience.teams() == {"ops": ["b"]}
    audience.leave_team("b", "ops")
    assert audience.teams() == {}


def test_every_logs_client_gets_log_entry_and_matching_subscribers_filtered_log() -> None:
    audience = SocketIoAudience()
    audience.connect_logs("plain")
    audience.connect_logs("errors")
    audience.subscribe_logs("errors", LogSubscription(filter=LogFilter(level="error")))
    audience.connect_logs("chat-only")
    audience.subscribe_logs("chat-only", LogSubscription("chat-team", LogFilter()))
    assert audience.log_recipients(entry("error", "gateway"), sees) == (
        ["plain", "errors"],
        ["errors"],
    )
    assert audience.log_recipients(entry("info", "chat"), sees) == (
        ["plain", "errors", "chat-only"],
        ["chat-only"],
    )
    assert audience.disconnect_logs("plain")
    assert not audience.disconnect_logs("plain")
