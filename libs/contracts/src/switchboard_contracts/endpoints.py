"""Every request/reply endpoint: its subject, what it is asked and answers, and who serves it.

An endpoint is named after the service that serves it, ``<SERVICE>_<WHAT>``:
``PERSISTENCE_CHAT_HISTORY`` is answered by persistence, whatever its subject says. Callers ask
with ``Bus.ask(endpoint, request)`` and get ``endpoint.reply_type`` back (typed: mypy knows it);
the serving service registers ``Bus.serve(endpoint, handler)`` in ``endpoint.queue``. Every
reply type has an ``error: BusError | None`` field: ``error_reply`` is the one way to answer
(or to stand in for) a failed request. Subjects stay spelled only in ``subjects``.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from switchboard_contracts import streams, subjects
from switchboard_contracts.chat import (
    ChatSendBatchReply,
    ChatSendBatchRequest,
    ChatSendReply,
    ChatSendRequest,
    HistoryReply,
    HistoryRequest,
    LastSeqReply,
    LastSeqRequest,
    MessageGetReply,
    MessageGetRequest,
    MessagesGetReply,
    MessagesGetRequest,
    VersionsReply,
    VersionsRequest,
)
from switchboard_contracts.dead_letters import DeadLetterReplayReply, DeadLetterReplayRequest
from switchboard_contracts.erase import UserEraseReply, UserEraseRequest
from switchboard_contracts.errors import BusError
from switchboard_contracts.message import BusMessage
from switchboard_contracts.notify import (
    BroadcastReply,
    BroadcastRequest,
    InboxReply,
    InboxRequest,
    LastCursorReply,
    LastCursorRequest,
    MarkReadReply,
    MarkReadRequest,
    MembershipsReply,
    MembershipsRequest,
    NotifySendReply,
    NotifySendRequest,
    ReadReply,
    ReadRequest,
    RegisterReply,
    RegisterRequest,
    ReplayReply,
    ReplayRequest,
)
from switchboard_contracts.presence import PresenceReply, PresenceRequest
from switchboard_contracts.reads import (
    ReadMarkReply,
    ReadMarkRequest,
    ReadStatesReply,
    ReadStatesRequest,
)
from switchboard_contracts.rooms import (
    Room,
    RoomAccessReply,
    RoomAccessRequest,
    RoomCreateRequest,
    RoomGetRequest,
    RoomListReply,
    RoomListRequest,
    RoomReply,
)

__all__ = [
    "ALL",
    "CHAT_PRESENCE",
    "CHAT_ROOM_ACCESS",
    "CHAT_ROOM_CREATE",
    "CHAT_ROOM_LIST",
    "CHAT_SEND",
    "CHAT_SEND_BATCH",
    "DEAD_LETTER_REPLAYS",
    "DEFAULT_TIMEOUT_SECONDS",
    "NOTIFICATION_BROADCAST",
    "NOTIFICATION_DEAD_LETTER_REPLAY_NOTIFY_JOBS",
    "NOTIFICATION_READ",
    "NOTIFICATION_SEND",
    "PERSISTENCE_CHAT_HISTORY",
    "PERSISTENCE_CHAT_LAST_SEQ",
    "PERSISTENCE_CHAT_VERSIONS",
    "PERSISTENCE_DEAD_LETTER_REPLAY_CHAT",
    "PERSISTENCE_DEAD_LETTER_REPLAY_NOTIFY",
    "PERSISTENCE_MESSAGES_GET",
    "PERSISTENCE_MESSAGE_GET",
    "PERSISTENCE_NOTIFY_INBOX",
    "PERSISTENCE_NOTIFY_LAST_CURSOR",
    "PERSISTENCE_NOTIFY_MARK_READ",
    "PERSISTENCE_NOTIFY_MEMBERSHIPS",
    "PERSISTENCE_NOTIFY_REGISTER",
    "PERSISTENCE_NOTIFY_REPLAY",
    "PERSISTENCE_READ_MARK",
    "PERSISTENCE_READ_STATES",
    "PERSISTENCE_ROOM_CREATE",
    "PERSISTENCE_ROOM_GET",
    "PERSISTENCE_ROOM_LIST",
    "PERSISTENCE_USER_ERASE",
    "Endpoint",
]

Req = TypeVar("Req", bound=BusMessage)
Rep = TypeVar("Rep", bound=BusMessage)

DEFAULT_TIMEOUT_SECONDS = 5.0
"""How long ``Bus.ask`` waits when the caller gives no timeout (services pass their setting)."""
ERASE_TIMEOUT_SECONDS = 120.0
"""How long a gateway waits for an erasure's report (``PERSISTENCE_USER_ERASE``)."""


@dataclass(frozen=True, slots=True)
class Endpoint(Generic[Req, Rep]):
    """One request/reply subject: asked with ``request_type``, answered with ``reply_type`` by
    the queue group ``queue`` (one member of the serving service answers each request)."""

    subject: str
    request_type: type[Req]
    reply_type: type[Rep]
    queue: str
    timeout: float = DEFAULT_TIMEOUT_SECONDS

    def __post_init__(self) -> None:
        if "error" not in self.reply_type.model_fields:
            raise TypeError(f"{self.reply_type.__name__} has no error field to answer failures")

    def error_reply(self, error: BusError) -> Rep:
        """The reply that says ``error`` and nothing else."""
        return self.reply_type.model_validate({"error": error})


_CHAT, _NOTIFICATION, _PERSISTENCE = (
    subjects.QUEUE_CHAT,
    subjects.QUEUE_NOTIFICATION,
    subjects.QUEUE_PERSISTENCE,
)

# chat: accepting messages, rooms and who may join them, presence
CHAT_SEND = Endpoint(subjects.CHAT_SEND, ChatSendRequest, ChatSendReply, _CHAT)
CHAT_SEND_BATCH = Endpoint(
    subjects.CHAT_SEND_BATCH, ChatSendBatchRequest, ChatSendBatchReply, _CHAT
)
CHAT_ROOM_CREATE = Endpoint(subjects.CHAT_ROOM_CREATE, RoomCreateRequest, RoomReply, _CHAT)
CHAT_ROOM_LIST = Endpoint(subjects.CHAT_ROOM_LIST, RoomListRequest, RoomListReply, _CHAT)
CHAT_ROOM_ACCESS = Endpoint(subjects.CHAT_ROOM_ACCESS, RoomAccessRequest, RoomAccessReply, _CHAT)
CHAT_PRESENCE = Endpoint(subjects.CHAT_PRESENCE_SNAPSHOT, PresenceRequest, PresenceReply, _CHAT)

# notification: sends, broadcasts, reads (gateway -> notification)
NOTIFICATION_SEND = Endpoint(
    subjects.NOTIFY_SEND, NotifySendRequest, NotifySendReply, _NOTIFICATION
)
NOTIFICATION_BROADCAST = Endpoint(
    subjects.NOTIFY_BROADCAST, BroadcastRequest, BroadcastReply, _NOTIFICATION
)
NOTIFICATION_READ = Endpoint(subjects.NOTIFY_READ, ReadRequest, ReadReply, _NOTIFICATION)

# persistence: what is stored in PostgreSQL (chat history, rooms, inboxes and read state)
PERSISTENCE_CHAT_HISTORY = Endpoint(
    subjects.CHAT_HISTORY, HistoryRequest, HistoryReply, _PERSISTENCE
)
PERSISTENCE_CHAT_LAST_SEQ = Endpoint(
    subjects.CHAT_LAST_SEQ, LastSeqRequest, LastSeqReply, _PERSISTENCE
)
PERSISTENCE_CHAT_VERSIONS = Endpoint(
    subjects.CHAT_VERSIONS, VersionsRequest, VersionsReply, _PERSISTENCE
)
PERSISTENCE_USER_ERASE = Endpoint(
    subjects.CHAT_USER_ERASE,
    UserEraseRequest,
    UserEraseReply,
    _PERSISTENCE,
    timeout=ERASE_TIMEOUT_SECONDS,
)
"""Synchronous: a bounded user's erasure takes seconds (a scan of the CHAT stream, a
transaction per room, one deletion per event); the caller waits for the report."""
PERSISTENCE_ROOM_CREATE = Endpoint(subjects.STORE_ROOM_CREATE, Room, RoomReply, _PERSISTENCE)
PERSISTENCE_ROOM_GET = Endpoint(subjects.STORE_ROOM_GET, RoomGetRequest, RoomReply, _PERSISTENCE)
PERSISTENCE_ROOM_LIST = Endpoint(
    subjects.STORE_ROOM_LIST, RoomListRequest, RoomListReply, _PERSISTENCE
)
PERSISTENCE_READ_MARK = Endpoint(
    subjects.STORE_READ_MARK, ReadMarkRequest, ReadMarkReply, _PERSISTENCE
)
"""A user's read mark in a room: stored (monotonic), answered with the unread count."""
PERSISTENCE_READ_STATES = Endpoint(
    subjects.STORE_READ_STATES, ReadStatesRequest, ReadStatesReply, _PERSISTENCE
)
"""A user's read marks and unread counts in some rooms (a join, the rooms list)."""
PERSISTENCE_MESSAGE_GET = Endpoint(
    subjects.STORE_MESSAGE_GET, MessageGetRequest, MessageGetReply, _PERSISTENCE
)
"""One message by id: what chat asked before it batched its lookups (still served for a chat
instance of the previous version during a rolling upgrade)."""
PERSISTENCE_MESSAGES_GET = Endpoint(
    subjects.STORE_MESSAGES_GET, MessagesGetRequest, MessagesGetReply, _PERSISTENCE
)
PERSISTENCE_NOTIFY_REGISTER = Endpoint(
    subjects.NOTIFY_REGISTER, RegisterRequest, RegisterReply, _PERSISTENCE
)
PERSISTENCE_NOTIFY_INBOX = Endpoint(subjects.NOTIFY_INBOX, InboxRequest, InboxReply, _PERSISTENCE)
PERSISTENCE_NOTIFY_REPLAY = Endpoint(
    subjects.NOTIFY_REPLAY, ReplayRequest, ReplayReply, _PERSISTENCE
)
PERSISTENCE_NOTIFY_LAST_CURSOR = Endpoint(
    subjects.NOTIFY_LAST_CURSOR, LastCursorRequest, LastCursorReply, _PERSISTENCE
)
PERSISTENCE_NOTIFY_MARK_READ = Endpoint(
    subjects.NOTIFY_MARK_READ, MarkReadRequest, MarkReadReply, _PERSISTENCE
)
PERSISTENCE_NOTIFY_MEMBERSHIPS = Endpoint(
    subjects.NOTIFY_MEMBERSHIPS, MembershipsRequest, MembershipsReply, _PERSISTENCE
)

# operators (switchboard-dead-letters) -> the consumer of a dead letter's origin stream
PERSISTENCE_DEAD_LETTER_REPLAY_CHAT = Endpoint(
    subjects.dead_letter_replay(streams.CHAT.name),
    DeadLetterReplayRequest,
    DeadLetterReplayReply,
    _PERSISTENCE,
)
PERSISTENCE_DEAD_LETTER_REPLAY_NOTIFY = Endpoint(
    subjects.dead_letter_replay(streams.NOTIFY.name),
    DeadLetterReplayRequest,
    DeadLetterReplayReply,
    _PERSISTENCE,
)
NOTIFICATION_DEAD_LETTER_REPLAY_NOTIFY_JOBS = Endpoint(
    subjects.dead_letter_replay(streams.NOTIFY_JOBS.name),
    DeadLetterReplayRequest,
    DeadLetterReplayReply,
    _NOTIFICATION,
)
DEAD_LETTER_REPLAYS: Mapping[str, Endpoint[DeadLetterReplayRequest, DeadLetterReplayReply]] = (
    MappingProxyType(
        {
            streams.CHAT.name: PERSISTENCE_DEAD_LETTER_REPLAY_CHAT,
            streams.NOTIFY.name: PERSISTENCE_DEAD_LETTER_REPLAY_NOTIFY,
            streams.NOTIFY_JOBS.name: NOTIFICATION_DEAD_LETTER_REPLAY_NOTIFY_JOBS,
        }
    )
)
"""The replay endpoint of each stream whose consumer dead-letters, by stream name."""

ALL: tuple[Endpoint[Any, Any], ...] = (
    CHAT_SEND,
    CHAT_SEND_BATCH,
    CHAT_ROOM_CREATE,
    CHAT_ROOM_LIST,
    CHAT_ROOM_ACCESS,
    CHAT_PRESENCE,
    NOTIFICATION_SEND,
    NOTIFICATION_BROADCAST,
    NOTIFICATION_READ,
    PERSISTENCE_CHAT_HISTORY,
    PERSISTENCE_CHAT_LAST_SEQ,
    PERSISTENCE_CHAT_VERSIONS,
    PERSISTENCE_USER_ERASE,
    PERSISTENCE_ROOM_CREATE,
    PERSISTENCE_ROOM_GET,
    PERSISTENCE_ROOM_LIST,
    PERSISTENCE_READ_MARK,
    PERSISTENCE_READ_STATES,
    PERSISTENCE_MESSAGE_GET,
    PERSISTENCE_MESSAGES_GET,
    PERSISTENCE_NOTIFY_REGISTER,
    PERSISTENCE_NOTIFY_INBOX,
    PERSISTENCE_NOTIFY_REPLAY,
    PERSISTENCE_NOTIFY_LAST_CURSOR,
    PERSISTENCE_NOTIFY_MARK_READ,
    PERSISTENCE_NOTIFY_MEMBERSHIPS,
    *DEAD_LETTER_REPLAYS.values(),
)
"""Every endpoint, for the tests that hold them to the rules above."""
