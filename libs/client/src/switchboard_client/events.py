"""Typed server frames and events: what an application handles instead of raw JSON."""

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Ack",
    "Change",
    "ChatEvent",
    "ChatMessage",
    "Closed",
    "ErrorFrame",
    "Joined",
    "Notification",
    "NotificationEvent",
    "OtherFrame",
    "Presence",
    "ReadMark",
    "Replay",
    "StreamReady",
    "StreamReset",
    "Unread",
    "parse_frame",
]


@dataclass(frozen=True)
class ChatMessage:
    room: str
    seq: int
    id: str
    sender_id: str
    content: str
    client_msg_id: str | None
    timestamp: int


@dataclass(frozen=True)
class Change:
    """An edit (``kind`` "edit", with the new ``content``), a deletion ("delete") or a
    reaction ("react" or "unreact", ``content`` the emoji) of the message ``message_id``: an
    event of the room at its own ``seq``."""

    room: str
    seq: int
    id: str
    kind: str
    message_id: str
    sender_id: str
    content: str | None
    client_msg_id: str | None


@dataclass(frozen=True)
class Ack:
    room: str
    client_msg_id: str
    id: str
    seq: int


@dataclass(frozen=True)
class Joined:
    """The connection is a member of ``room`` from ``seq`` on: every later event reaches it."""

    room: str
    seq: int


@dataclass(frozen=True)
class Replay:
    room: str
    recovered: bool


@dataclass(frozen=True)
class ReadMark:
    """``user_id`` read ``room`` up to ``seq``. The user's own (the answer to ``mark_read``, on
    joining, from another tab) adds ``unread_count``: others' messages after ``seq`` up to
    ``upto``."""

    room: str
    user_id: str
    seq: int
    unread_count: int | None = None
    upto: int | None = None


@dataclass(frozen=True)
class Presence:
    room: str | None
    online_users: list[dict[str, Any]]
    count: int


@dataclass(frozen=True)
class ErrorFrame:
    code: str
    message: str
    ref: str | None


@dataclass(frozen=True)
class Closed:
    """The connection ended; the client reconnects unless ``final``."""

    code: int | None
    final: bool


@dataclass(frozen=True)
class OtherFrame:
    """A frame this library does not model (typing, pong, history, notification, …)."""

    type: str
    raw: dict[str, Any] = field(default_factory=dict)


ChatEvent = (
    ChatMessage
    | Change
    | Ack
    | Joined
    | Replay
    | Presence
    | ReadMark
    | ErrorFrame
    | Closed
    | OtherFrame
)


def parse_frame(frame: dict[str, Any]) -> ChatEvent:  # noqa: PLR0911 (one return per type)
    """One JSON frame from the gateway, typed. Unknown frames and fields are kept, not refused."""
    kind = str(frame.get("type", ""))
    payload = frame.get("payload")
    if not isinstance(payload, dict):
        return OtherFrame(kind, frame)
    room = frame.get("room", payload.get("room"))
    if kind == "chat" and "seq" in frame:
        return ChatMessage(
            room=str(room),
            seq=int(frame["seq"]),
            id=str(frame["id"]),
            sender_id=str(frame.get("senderId", "")),
            content=str(payload.get("content", "")),
            client_msg_id=payload.get("clientMsgId"),
            timestamp=int(frame.get("timestamp", 0)),
        )
    if kind in ("edit", "delete", "react", "unreact") and "seq" in frame:
        return Change(
            room=str(room),
            seq=int(frame["seq"]),
            id=str(frame["id"]),
            kind=kind,
            message_id=str(payload.get("messageId", "")),
            sender_id=str(frame.get("senderId", "")),
            content=payload.get("emoji" if kind in ("react", "unreact") else "content"),
            client_msg_id=payload.get("clientMsgId"),
        )
    if kind == "ack":
        return Ack(
            room=str(payload.get("room", room)),
            client_msg_id=str(payload["clientMsgId"]),
            id=str(payload["id"]),
            seq=int(payload["seq"]),
        )
    if kind == "joined":
        return Joined(room=str(payload.get("room", room)), seq=int(payload["seq"]))
    if kind == "replay":
        return Replay(room=str(payload.get("room", room)), recovered=bool(payload["recovered"]))
    if kind == "presence":
        return Presence(
            room=None if room is None else str(room),
            online_users=list(payload.get("onlineUsers", [])),
            count=int(payload.get("count", 0)),
        )
    if kind == "read":
        unread, upto = payload.get("unreadCount"), payload.get("upto")
        return ReadMark(
            room=str(room),
            user_id=str(payload.get("userId", "")),
            seq=int(payload.get("seq", 0)),
            unread_count=None if unread is None else int(unread),
            upto=None if upto is None else int(upto),
        )
    if kind == "error":
        ref = payload.get("ref")
        return ErrorFrame(
            code=str(payload.get("code", "")),
            message=str(payload.get("message", "")),
            ref=None if ref is None else str(ref),
        )
    return OtherFrame(kind, frame)


@dataclass(frozen=True)
class Notification:
    cursor: int
    id: str
    type: str
    title: str
    message: str
    timestamp: int
    read: bool
    raw: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Notification":
        return cls(
            cursor=int(data["cursor"]),
            id=str(data["id"]),
            type=str(data.get("type", "info")),
            title=str(data.get("title", "")),
            message=str(data.get("message", "")),
            timestamp=int(data.get("timestamp", 0)),
            read=bool(data.get("read", False)),
            raw=data,
        )


@dataclass(frozen=True)
class StreamReady:
    cursor: int


@dataclass(frozen=True)
class StreamReset:
    """The server could not resume from our cursor: reload the inbox."""

    cursor: int
    reason: str


@dataclass(frozen=True)
class Unread:
    unread_count: int


NotificationEvent = Notification | StreamReady | StreamReset | Unread
