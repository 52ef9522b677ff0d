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
    "NOTIFICATION_KIND",
    "AudienceEntry",
    "Entry",
    "InboxEvent",
    "MemberEntry",
    "Ready",
    "Reset",
    "Unread",
    "notification_object",
]


NOTIFICATION_KIND = "notification"
"""An inbox entry's SSE event type (``event: notification``), its ``kind`` for the metrics."""


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

    kind = NOTIFICATION_KIND

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


class AudienceEntry:
    """A broadcast's one entry (stored once for its audience) as every local member gets it:
    decoded and encoded once per gateway; ``for_member`` only splices the member's id into the
    bytes (ids are safe JSON as they are: ``switchboard_protocol.ids.ID_PATTERN``). ``userId``
    comes last in the object."""

    __slots__ = ("_frame_head", "_frame_tail", "_sse_head", "cursor", "notification")

    _SSE_TAIL = b'"}\n\n'
    kind = NOTIFICATION_KIND

    def __init__(self, notification: Notification) -> None:
        self.notification = notification
        self.cursor = notification.cursor
        """A plain attribute: read once per member."""
        shown = notification_object(notification, read=False)
        del shown["userId"]
        body = dump_json(shown)[:-1] + ',"userId":"'
        self._sse_head = f"id: {notification.cursor}\nevent: notification\ndata: {body}".encode()
        self._frame_head = '{"type":"notification","payload":' + body
        self._frame_tail = (
            f'"}},"timestamp":{notification.timestamp},"id":{dump_json(notification.id)}'
            f',"cursor":{notification.cursor}}}'
        )

    def for_member(self, user_id: str) -> "MemberEntry":
        return MemberEntry(self.notification, False, self, user_id)

    def sse_bytes_for(self, user_id: str) -> bytes:
        return self._sse_head + user_id.encode() + self._SSE_TAIL

    def frame_for(self, user_id: str) -> str:
        return self._frame_head + user_id + self._frame_tail


@dataclass(frozen=True, eq=False)
class MemberEntry(Entry):
    """An audience entry as one member's event: its bytes spliced from the shared ones."""

    shared: AudienceEntry | None = None
    user_id: str = ""

    @cached_property
    def shown(self) -> dict[str, Any]:
        return {**notification_object(self.notification, self.read), "userId": self.user_id}

    # Plain properties, not cached: each is read once (a stream writes the bytes, a socket the
    # frame), and caching one gives every member's event a dict of its own.
    @property
    def sse_bytes(self) -> bytes:
        assert self.shared is not None
        return self.shared.sse_bytes_for(self.user_id)

    @property
    def sse(self) -> str:
        return self.sse_bytes.decode()

    @property
    def frame(self) -> str:
        assert self.shared is not None
        return self.shared.frame_for(self.user_id)


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
