"""Every NATS subject Switchboard uses. Builders validate ids: no caller can form a bad subject."""

from switchboard_contracts.ids import ID_PATTERN, InvalidIdError, validate_room_id

__all__ = [
    "CHAT_HISTORY",
    "CHAT_LAST_SEQ",
    "CHAT_LIVE_ALL",
    "CHAT_ROOM_ALL",
    "CHAT_SEND",
    "DASHBOARD_ALERT",
    "DASHBOARD_LOG_ALL",
    "DASHBOARD_METRICS",
    "LOGS_RECORD_ALL",
    "METRICS_REPORT_ALL",
    "NOTIFY_USER_ALL",
    "QUEUE_CHAT",
    "QUEUE_PERSISTENCE",
    "SOCKETIO_CHANNEL",
    "chat_live",
    "chat_room",
    "dashboard_log",
    "logs_record",
    "metrics_report",
]

# request/reply, served by a queue group
CHAT_SEND = "chat.cmd.send"
CHAT_HISTORY = "chat.cmd.history"
CHAT_LAST_SEQ = "chat.cmd.last-seq"

QUEUE_CHAT = "chat"
QUEUE_PERSISTENCE = "persistence"

CHAT_ROOM_ALL = "chat.room.>"
CHAT_LIVE_ALL = "chat.live.>"
METRICS_REPORT_ALL = "metrics.report.>"
NOTIFY_USER_ALL = "notify.user.>"


def chat_room(room_id: str) -> str:
    """Where chat publishes a room's messages; stored in stream CHAT. Nobody subscribes to it:
    a publish that JetStream rejects or drops as a duplicate is still seen by core subscribers."""
    return f"chat.room.{validate_room_id(room_id)}"


def chat_live(room_id: str) -> str:
    """Where gateways receive a room's messages: republished by the CHAT stream, only once
    stored, in stream (= ``seq``) order."""
    return f"chat.live.{validate_room_id(room_id)}"


def metrics_report(service: str) -> str:
    return f"metrics.report.{service}"


# Live dashboards (core NATS, ephemeral): services -> metrics-collector -> gateways.
LOGS_RECORD_ALL = "logs.record.>"
DASHBOARD_METRICS = "dashboard.metrics"
DASHBOARD_ALERT = "dashboard.alert"
DASHBOARD_LOG_ALL = "dashboard.log.>"
SOCKETIO_CHANNEL = "gateway.socketio"
"""gateway <-> gateways: python-socketio's client-manager messages (emits, rooms, disconnects)."""


def _token(kind: str, value: str) -> str:
    if not ID_PATTERN.fullmatch(value):
        raise InvalidIdError(f"{kind} must be 1-64 characters of letters, digits, '-' or '_'")
    return value


def logs_record(service: str) -> str:
    """Where a service forwards its log records to metrics-collector."""
    return f"logs.record.{_token('service', service)}"


def dashboard_log(level: str, source: str) -> str:
    """Where metrics-collector publishes a log tail entry for dashboards."""
    return f"dashboard.log.{_token('level', level)}.{_token('source', source)}"
