"""Every NATS subject Switchboard uses. Builders validate ids: no caller can form a bad subject."""

from switchboard_contracts.ids import validate_room_id

__all__ = [
    "CHAT_HISTORY",
    "CHAT_LAST_SEQ",
    "CHAT_ROOM_ALL",
    "CHAT_SEND",
    "METRICS_REPORT_ALL",
    "NOTIFY_USER_ALL",
    "QUEUE_CHAT",
    "QUEUE_PERSISTENCE",
    "chat_room",
    "metrics_report",
]

# request/reply, served by a queue group
CHAT_SEND = "chat.cmd.send"
CHAT_HISTORY = "chat.cmd.history"
CHAT_LAST_SEQ = "chat.cmd.last-seq"

QUEUE_CHAT = "chat"
QUEUE_PERSISTENCE = "persistence"

CHAT_ROOM_ALL = "chat.room.>"
METRICS_REPORT_ALL = "metrics.report.>"
NOTIFY_USER_ALL = "notify.user.>"


def chat_room(room_id: str) -> str:
    """The subject of a room's durable messages (stream CHAT)."""
    return f"chat.room.{validate_room_id(room_id)}"


def metrics_report(service: str) -> str:
    return f"metrics.report.{service}"
