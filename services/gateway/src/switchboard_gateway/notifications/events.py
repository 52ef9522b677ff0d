"""What a user's streams and sockets are sent about their inbox (docs/protocol.md §3). Pure.

Each event knows its SSE block (also as bytes, with its event ``kind`` for the metrics) and its
WebSocket frame, computed at most once: a live event is
one object shared by every stream of the user on this gateway, so it is encoded once per gateway.
"""

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from switchboard_contracts.input_rules import dump_json
from switchboard_contracts.notify import Notification
from switchboard_protocol.times import now_ms

from switchboard_gateway.transport.sse import sse_event

__all__ = [
    "Entry",
    "InboxEvent",
    "Ready",
    "Reset",
    "Unread",
    "notification_object",
]


def notification_object(notification: Notification, read: bool) -> dict[str, Any]:
    """A notification as clients see it."""
    shown: dict[str, Any] = {
        "id": notification.id,
        "type": notification.type.value,
        "title": notification.title,
        "message": notification.message,
        "timestamp": notification.timestamp,
        "read": read,
        "cursor": notification.cursor,
        "userId": notification.user_id,
    }
    if notification.broadcast_id is not None:
        shown["broadcastId"] = notification.broadcast_id
    if notification.team is not None:
        shown["team"] = notification.team
    return shown


@dataclass(frozen=True, eq=False)
class Entry:
    """An inbox entry: sent as ``event: notification`` with ``id: <cursor>``."""

    notification: Notification
    read: bool = False

    @property
    def cursor(self) -> int:
        return self.notification.cursor

    @cached_property
    def shown(self) -> dict[str, Any]:
        return notification_object(self.notification, self.read)

    @cached_property
    def sse(self) -> str:
        return sse_event(dump_json(self.shown), event="notification", id=self.cursor)

    @cached_property
    def sse_bytes(self) -> bytes:
        return self.sse.encode()

    kind = "notification"

    @cached_property
    def frame(self) -> str:
        return dump_json(
            {
                "type": "notification",
                "payload": self.shown,
                "timestamp": self.notification.timestamp,
                "id": self.notification.id,
                "cursor": self.cursor,
            }
        )


@dataclass(frozen=True, eq=False)
class Unread:
    """The user's unread count changed (a read on any of their tabs). Carries no ``id``: it is
    not part of the inbox and must not move the client's resume position."""

    unread_count: int
    version: int

    @cached_property
    def sse(self) -> str:
        return sse_event(dump_json({"unreadCount": self.unread_count}), event="unread")

    @cached_property
    def sse_bytes(self) -> bytes:
        return self.sse.encode()

    kind = "unread"

    @cached_property
    def frame(self) -> str:
        payload = {"unreadCount": self.unread_count}
        return dump_json({"type": "unread", "payload": payload, "timestamp": now_ms()})


@dataclass(frozen=True)
class Ready:
    """Sent first on a stream: the cursor it starts after, as ``id``, so that every client's
    ``Last-Event-ID`` is set even before the first notification."""

    cursor: int

    @property
    def sse(self) -> str:
        return sse_event(dump_json({"cursor": self.cursor}), event="ready", id=self.cursor)


@dataclass(frozen=True)
class Reset:
    """The stream cannot resume where asked (cursor unknown or past retention): the client
    reloads its inbox; the stream goes on from ``cursor``."""

    cursor: int
    reason: str

    @property
    def sse(self) -> str:
        data = dump_json({"cursor": self.cursor, "reason": self.reason})
        return sse_event(data, event="reset", id=self.cursor)

    @property
    def sse_bytes(self) -> bytes:
        return self.sse.encode()

    kind = "reset"


InboxEvent = Entry | Unread | Reset
