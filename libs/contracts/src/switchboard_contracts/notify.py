"""Notifications on the bus: the per-user inbox log, its commands and its ephemeral events.

A user's notifications form an ordered inbox; ``cursor`` is a notification's position in it:
its sequence in the NOTIFY stream, so increasing per user but not consecutive (another user's
entries lie between). Entries are published with ``cursor`` 0 and every reader gives them their
stream sequence (``at_position``); entries stored before cursors became positions keep the
per-user cursor (1, 2, 3, ...) they were published with, which is below any later position.
Read state is ``read_upto`` (everything up to that cursor is read, set by read-all) plus the
cursors read one by one above it.
"""

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from switchboard_contracts.errors import BusError
from switchboard_contracts.input_rules import Int64
from switchboard_contracts.message import BusMessage

__all__ = [
    "EVENT_HEADER",
    "MAX_INBOX_LIMIT",
    "MAX_MESSAGE_LENGTH",
    "MAX_TITLE_LENGTH",
    "MAX_USERS_PAGE",
    "UNREAD_EVENT",
    "BroadcastJob",
    "BroadcastReply",
    "BroadcastRequest",
    "InboxItem",
    "InboxReply",
    "InboxRequest",
    "LastCursorReply",
    "LastCursorRequest",
    "MarkReadReply",
    "MarkReadRequest",
    "Notification",
    "NotificationType",
    "NotifySendReply",
    "NotifySendRequest",
    "ReadReply",
    "ReadRequest",
    "RegisterReply",
    "RegisterRequest",
    "ReplayReply",
    "ReplayRequest",
    "UnreadEvent",
    "UsersReply",
    "UsersRequest",
    "at_position",
]

MAX_TITLE_LENGTH = 200
MAX_MESSAGE_LENGTH = 5000
MAX_INBOX_LIMIT = 100
MAX_USERS_PAGE = 1000

EVENT_HEADER = "Switchboard-Event"
"""Marks an event of ours published on ``notify.live.<user>`` beside the stream's republished
entries (which never carry it); its value names the body's schema."""
UNREAD_EVENT = "unread"
"""``EVENT_HEADER``'s value for an ``UnreadEvent``."""

Title = Annotated[str, Field(min_length=1, max_length=MAX_TITLE_LENGTH)]
Text = Annotated[str, Field(min_length=1, max_length=MAX_MESSAGE_LENGTH)]
Limit = Annotated[int, Field(ge=1, le=MAX_INBOX_LIMIT)]


class NotificationType(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    SUCCESS = "success"


class Notification(BusMessage):
    """notification -> stream NOTIFY (``notify.user.<user>``): one entry of a user's inbox."""

    id: str
    user_id: str
    cursor: Int64
    type: NotificationType
    title: str
    message: str
    timestamp: Int64
    broadcast_id: str | None = None
    team: str | None = None


def at_position(notification: Notification, stream_seq: int) -> Notification:
    """The entry as every reader shows it: its cursor is its NOTIFY stream sequence. An entry
    published before cursors became positions carries its cursor and keeps it."""
    if notification.cursor:
        return notification
    return notification.model_copy(update={"cursor": stream_seq})


class NotifySendRequest(BusMessage):
    """gateway -> notification (``notify.cmd.send``)."""

    user_id: str
    type: NotificationType
    title: Title
    message: Text


class NotifySendReply(BusMessage):
    notification: Notification | None = None
    error: BusError | None = None


class BroadcastRequest(BusMessage):
    """gateway -> notification (``notify.cmd.broadcast``): to every known user, or a team's."""

    team: str | None = None
    type: NotificationType
    title: Title
    message: Text


class BroadcastJob(BusMessage):
    """notification -> stream NOTIFY_JOBS: an accepted broadcast, expanded by any instance."""

    id: str
    team: str | None = None
    type: NotificationType
    title: str
    message: str
    timestamp: Int64


class BroadcastReply(BusMessage):
    broadcast_id: str | None = None
    error: BusError | None = None


class ReadRequest(BusMessage):
    """gateway -> notification (``notify.cmd.read``): one notification, or all when no id."""

    user_id: str
    notification_id: str | None = None


class ReadReply(BusMessage):
    unread_count: int = 0
    error: BusError | None = None


class MarkReadRequest(BusMessage):
    """notification -> persistence (``notify.cmd.mark-read``): store a read, count the unread.

    With ``notification_id`` one notification is read; without it everything up to ``upto``.
    """

    user_id: str
    notification_id: str | None = None
    upto: Int64 | None = None


class MarkReadReply(BusMessage):
    unread_count: int = 0
    version: int = 0
    error: BusError | None = None


class UnreadEvent(BusMessage):
    """notification -> gateways: the new unread count, published on core ``notify.live.<user>``
    with ``EVENT_HEADER: UNREAD_EVENT`` (and, for gateways of the previous release, on
    ``notify.unread.<user>``).

    ``version`` grows with every change of the user's read state; older events are dropped.
    """

    user_id: str
    unread_count: int
    version: int


class RegisterRequest(BusMessage):
    """gateway -> persistence (``notify.cmd.register``): a user connected.

    ``teams`` replaces the user's teams; ``None`` keeps what is known.
    """

    user_id: str
    teams: list[str] | None = None


class RegisterReply(BusMessage):
    error: BusError | None = None


class UsersRequest(BusMessage):
    """notification -> persistence (``notify.cmd.users``): known users, by id, after ``after``."""

    team: str | None = None
    after: str | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_USERS_PAGE)] = MAX_USERS_PAGE


class UsersReply(BusMessage):
    user_ids: list[str] = Field(default_factory=list)
    error: BusError | None = None


class InboxItem(BusMessage):
    notification: Notification
    read: bool


class InboxRequest(BusMessage):
    """gateway -> persistence (``notify.cmd.inbox``): a page newest first, cursors < ``before``."""

    user_id: str
    unread_only: bool = False
    before: Int64 | None = None
    limit: Limit = 20


class InboxReply(BusMessage):
    items: list[InboxItem] = Field(default_factory=list)
    unread_count: int = 0
    has_more: bool = False
    error: BusError | None = None


class ReplayRequest(BusMessage):
    """gateway -> persistence (``notify.cmd.replay``): stored notifications after ``after``,
    oldest first (at most ``limit``, and only cursors ``< before`` when given), and the read
    state of the cursors ``(after, upto]`` (``upto``: the last entry's, or the page's)."""

    user_id: str
    after: Int64
    limit: Limit = MAX_INBOX_LIMIT
    before: Int64 | None = None
    upto: Int64 | None = None  # the read state's end (default: the last entry returned)
    states_only: bool = False  # only the read state (the entries come from the stream)


class ReplayReply(BusMessage):
    notifications: list[Notification] = Field(default_factory=list)
    read_upto: Int64 = 0
    read_cursors: list[Int64] = Field(default_factory=list)
    error: BusError | None = None


class LastCursorRequest(BusMessage):
    """(``notify.cmd.last-cursor``) the newest stored cursor of a user, 0 when none."""

    user_id: str


class LastCursorReply(BusMessage):
    cursor: Int64 = 0
    error: BusError | None = None
