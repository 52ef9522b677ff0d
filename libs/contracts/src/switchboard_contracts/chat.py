"""Chat messages on the bus."""

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from switchboard_contracts.errors import BusError
from switchboard_contracts.input_rules import Int64
from switchboard_contracts.message import BusMessage
from switchboard_contracts.reactions import Reaction

__all__ = [
    "MAX_CLIENT_MSG_ID_LENGTH",
    "MAX_CONTENT_LENGTH",
    "MAX_MESSAGES_GET",
    "MAX_SEND_BATCH",
    "REACTION_KINDS",
    "ChatMessage",
    "ChatSendBatchReply",
    "ChatSendBatchRequest",
    "ChatSendReply",
    "ChatSendRequest",
    "EventKind",
    "HistoryReply",
    "HistoryRequest",
    "LastSeqReply",
    "LastSeqRequest",
    "MessageGetReply",
    "MessageGetRequest",
    "MessageVersion",
    "MessagesGetReply",
    "MessagesGetRequest",
    "VersionsReply",
    "VersionsRequest",
]

MAX_MESSAGES_GET = 1000
MAX_SEND_BATCH = 256

MAX_CONTENT_LENGTH = 5000
MAX_CLIENT_MSG_ID_LENGTH = 64
MAX_HISTORY_LIMIT = 100

ClientMsgId = Annotated[str, Field(min_length=1, max_length=MAX_CLIENT_MSG_ID_LENGTH)]


class EventKind(StrEnum):
    """What a room event other than a message does to the message it names (``target_id``).

    Each is an event of its own in the room's stream, with its own ``seq``
    (docs/protocol.md §2, "Edit and delete"); a message has no kind (None)."""

    EDIT = "edit"
    DELETE = "delete"
    REACT = "react"
    """The user adds the emoji ``content`` to the message (docs/protocol.md §2, "Reactions")."""
    UNREACT = "unreact"
    """The user takes their emoji ``content`` back."""


REACTION_KINDS = frozenset({EventKind.REACT, EventKind.UNREACT})


class ChatSendRequest(BusMessage):
    """gateway -> chat (``chat.cmd.send``): a client's message, stamped with its user."""

    room: str
    user_id: str
    content: str
    sender_name: str | None = None
    client_msg_id: ClientMsgId | None = None
    kind: EventKind | None = None
    """None: a new message; else an edit, a deletion or a reaction (``content`` the emoji) of
    the message ``target_id``."""
    target_id: str | None = None
    moderator: bool = False
    """The user may edit and delete others' messages (the token's ``rooms:moderate`` scope)."""
    first_attempt: bool = False
    """The client says this is the first time it sends this ``clientMsgId`` (its frame's
    ``attempt`` is 1): no earlier copy can be stored, so chat does not look one up in
    PostgreSQL. A client that says so of a resend only risks storing its own message twice,
    and only after JetStream's duplicate window; unsaid, chat looks it up."""


class ChatMessage(BusMessage):
    """chat -> stream CHAT (``chat.room.<room>``): a stored event of a room with its per-room
    ``seq``: a message, or (``kind`` set) an edit or a deletion of the message ``target_id``
    (whose seq is ``target_seq``); an edit's ``content`` is the new content, a deletion's empty.

    Read back from PostgreSQL, a message carries its current state: the latest content, with
    ``edit_count``, ``edited_at`` and ``edited_seq`` (the seq of the latest edit) once edited,
    and ``deleted`` (content empty) once deleted, and its ``reactions``. These are never in the
    stream. A reaction's ``content`` is its emoji."""

    id: str
    room: str
    seq: Int64
    sender_id: str
    content: str
    timestamp: Int64
    sender_name: str | None = None
    client_msg_id: str | None = None
    kind: EventKind | None = None
    target_id: str | None = None
    target_seq: Int64 | None = None
    edit_count: Int64 | None = None
    edited_at: Int64 | None = None
    edited_seq: Int64 | None = None
    deleted: bool | None = None
    reactions: list[Reaction] | None = None
    """Read back: the message's current reactions (``reactions.fold_reactions``), None when it
    has none."""


class ChatSendReply(BusMessage):
    """chat -> gateway: the ack (``message`` set) or the reason for refusal (``error`` set)."""

    message: ChatMessage | None = None
    error: BusError | None = None


class ChatSendBatchRequest(BusMessage):
    """gateway -> chat (``chat.cmd.send-batch``): sends gathered while the gateway's previous
    batch was on its way (one request, one reply and one JetStream round per room for many
    messages). Each is handled as if sent alone; replies come back in the same order."""

    requests: Annotated[list[ChatSendRequest], Field(min_length=1, max_length=MAX_SEND_BATCH)]


class ChatSendBatchReply(BusMessage):
    """chat -> gateway: one reply per request, in order; or ``error`` for the whole batch."""

    replies: list[ChatSendReply] = Field(default_factory=list)
    error: BusError | None = None


class HistoryRequest(BusMessage):
    """gateway -> persistence (``chat.cmd.history``): a page newest first, before ``before``."""

    room: str
    before: Int64 | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_HISTORY_LIMIT)] = 50


class HistoryReply(BusMessage):
    messages: list[ChatMessage] = Field(default_factory=list)
    has_more: bool = False
    error: BusError | None = None


class VersionsRequest(BusMessage):
    """gateway -> persistence (``chat.cmd.versions``): every version of a message of ``room``."""

    room: str
    message_id: str


class MessageVersion(BusMessage):
    """One content a message had: the original at the message's ``seq``, each edit at its own."""

    seq: Int64
    content: str
    timestamp: Int64


class VersionsReply(BusMessage):
    """Oldest first; one for a message never edited, none for a deleted one (``deleted``);
    ``error`` ``not_found`` for a message not stored in the room."""

    versions: list[MessageVersion] = Field(default_factory=list)
    deleted: bool = False
    error: BusError | None = None


class LastSeqRequest(BusMessage):
    """chat -> persistence (``chat.cmd.last-seq``): the newest stored ``seq`` of a room."""

    room: str


class LastSeqReply(BusMessage):
    seq: Int64 = 0
    error: BusError | None = None


class MessageGetRequest(BusMessage):
    """chat -> persistence (``chat.cmd.store.message-get``): a stored message by its id.

    Chat asks before storing a message that carries a ``clientMsgId``, so that a retry arriving
    after JetStream's duplicate window is still recognised.
    """

    id: str


class MessageGetReply(BusMessage):
    message: ChatMessage | None = None
    error: BusError | None = None


class MessagesGetRequest(BusMessage):
    """chat -> persistence (``chat.cmd.store.messages-get``): stored messages by their ids.

    What ``MessageGetRequest`` asks, for many messages at once: chat gathers the lookups of the
    messages it is accepting into one request while the previous one is answered.
    """

    ids: Annotated[list[str], Field(max_length=MAX_MESSAGES_GET)]


class MessagesGetReply(BusMessage):
    """The messages found, in no particular order; an id not stored is simply absent."""

    messages: list[ChatMessage] = Field(default_factory=list)
    error: BusError | None = None
