"""A resilient Python client for Switchboard.

``ChatConnection`` (WebSocket) and ``NotificationStream`` (SSE) reconnect with exponential backoff
and full jitter, resume where they stopped (``since`` per room, ``Last-Event-ID``), send
unacknowledged messages again with their ``clientMsgId`` and never show anything twice.
"""

from switchboard_client.backoff import Backoff
from switchboard_client.chat import ChatConnection
from switchboard_client.cursors import RoomCursors
from switchboard_client.errors import (
    ClientError,
    ConnectFailedError,
    FatalConnectionError,
    TransportClosedError,
)
from switchboard_client.events import (
    Ack,
    Change,
    ChatEvent,
    ChatMessage,
    Closed,
    ErrorFrame,
    Joined,
    Notification,
    NotificationEvent,
    OtherFrame,
    Presence,
    ReadMark,
    Replay,
    StreamReady,
    StreamReset,
    Unread,
)
from switchboard_client.notifications import NotificationStream
from switchboard_client.outbox import Outbox

__all__ = [
    "Ack",
    "Backoff",
    "Change",
    "ChatConnection",
    "ChatEvent",
    "ChatMessage",
    "ClientError",
    "Closed",
    "ConnectFailedError",
    "ErrorFrame",
    "FatalConnectionError",
    "Joined",
    "Notification",
    "NotificationEvent",
    "NotificationStream",
    "OtherFrame",
    "Outbox",
    "Presence",
    "ReadMark",
    "Replay",
    "RoomCursors",
    "StreamReady",
    "StreamReset",
    "TransportClosedError",
    "Unread",
]
