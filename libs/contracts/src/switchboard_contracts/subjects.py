"""Every NATS subject Switchboard uses. Builders validate ids: no caller can form a bad subject."""

from switchboard_contracts.ids import validate_room_id

__all__ = [
    "CHAT_HISTORY",
    "CHAT_LAST_SEQ",
    "CHAT_LIVE_ALL",
    "CHAT_PRESENCE_SNAPSHOT",
    "CHAT_ROOM_ACCESS",
    "CHAT_ROOM_ALL",
    "CHAT_ROOM_CREATE",
    "CHAT_ROOM_LIST",
    "CHAT_SEND",
    "METRICS_REPORT_ALL",
    "NOTIFY_USER_ALL",
    "QUEUE_CHAT",
    "QUEUE_PERSISTENCE",
    "STORE_MESSAGE_GET",
    "STORE_ROOM_CREATE",
    "STORE_ROOM_GET",
    "STORE_ROOM_LIST",
    "chat_live",
    "chat_presence",
    "chat_room",
    "chat_typing",
    "metrics_report",
]

# request/reply, served by a queue group
CHAT_SEND = "chat.cmd.send"
CHAT_HISTORY = "chat.cmd.history"
CHAT_LAST_SEQ = "chat.cmd.last-seq"

# gateway -> chat: rooms, membership and presence (chat owns the rules)
CHAT_ROOM_CREATE = "chat.cmd.room.create"
CHAT_ROOM_LIST = "chat.cmd.room.list"
CHAT_ROOM_ACCESS = "chat.cmd.room.access"
CHAT_PRESENCE_SNAPSHOT = "chat.cmd.presence"

# chat -> persistence: what chat needs from PostgreSQL
STORE_ROOM_CREATE = "chat.cmd.store.room-create"
STORE_ROOM_GET = "chat.cmd.store.room-get"
STORE_ROOM_LIST = "chat.cmd.store.room-list"
STORE_MESSAGE_GET = "chat.cmd.store.message-get"

QUEUE_CHAT = "chat"
QUEUE_PERSISTENCE = "persistence"

CHAT_ROOM_ALL = "chat.room.>"
CHAT_LIVE_ALL = "chat.live.>"
METRICS_REPORT_ALL = "metrics.report.>"
NOTIFY_USER_ALL = "notify.user.>"


def chat_room(room_id: str) -> str:
    """The subject of a room's durable messages (stream CHAT)."""
    return f"chat.room.{validate_room_id(room_id)}"


def chat_live(room_id: str) -> str:
    """A room's stored messages as the CHAT stream republishes them: what gateways fan out.

    Not ``chat.room.<room>`` itself: a plain subscriber there also receives publishes that
    JetStream refused (a duplicate, a lost race for the next ``seq``). The stream republishes
    only what it stored, in its order, with ``Nats-Sequence`` and ``Nats-Last-Sequence``.
    """
    return f"chat.live.{validate_room_id(room_id)}"


def chat_typing(room_id: str) -> str:
    """Typing events of a room (core NATS, ephemeral): gateway -> gateways."""
    return f"chat.typing.{validate_room_id(room_id)}"


def chat_presence(room_id: str) -> str:
    """A room's coalesced presence snapshots (core NATS, ephemeral): chat -> gateways."""
    return f"chat.presence.{validate_room_id(room_id)}"


def metrics_report(service: str) -> str:
    return f"metrics.report.{service}"
