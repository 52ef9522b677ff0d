"""Notifications on the bus: the per-user inbox log, its commands and its ephemeral events.

A user's notifications form an ordered inbox: their own entries (``notify.user.<user>``) and
the broadcasts of their audiences, each stored once for everyone (``notify.audience.<audience>``,
``audience`` = ``all`` or ``team.<team>``), the latter only while the user belonged to the
audience (``Membership``). ``cursor`` is a notification's position in it:
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
    "ALL_AUDIENCE",
    "EVENT_HEADER",
    "MAX_INBOX_LIMIT",
    "MAX_MESSAGE_LENGTH",
    "MAX_TITLE_LENGTH",
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
    "Membership",
    "MembershipsReply",
    "MembershipsRequest",
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
    "at_position",
    "audience_of",
]

MAX_TITLE_LENGTH = 200
MAX_MESSAGE_LENGTH = 5000
MAX_INBOX_LIMIT = 100
ALL_AUDIENCE = "all"

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
    audience: str | None = None
    """Set on a broadcast's one entry for its whole audience (``user_id`` is then empty until a
    reader gives it to a member: ``for_member``)."""

    def for_member(self, user_id: str) -> "Notification":
        """An audience entry as one member's inbox shows it."""
        return self.model_copy(update={"user_id": user_id})


def audience_of(team: str | None) -> str:
    """The audience a broadcast goes to: every known user, or a team's members."""
    return ALL_AUDIENCE if team is None else f"team.{team}"


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

    ``teams`` replaces the user's teams; ``None`` keeps what is known. A user becomes a member
    of ``all`` at their first registration, of a team when a registration first names it, and
    stops being one when a later registration leaves it out: at the stream's position then.
    """

    user_id: str
    teams: list[str] | None = None


class RegisterReply(BusMessage):
    error: BusError | None = None


class Membership(BusMessage):
    """A user belonged to ``audience`` over the positions ``(from_cursor, to_cursor]`` (to now
    while ``to_cursor`` is None): its entries there are the user's."""

    audience: str
    from_cursor: Int64
    to_cursor: Int64 | None = None

    def covers(self, cursor: int) -> bool:
        return self.from_cursor < cursor and (self.to_cursor is None or cursor <= self.to_cursor)


class MembershipsRequest(BusMessage):
    """gateway -> persistence (``notify.cmd.memberships``): the user's audiences, past and
    present, as intervals of positions."""

    user_id: str


class MembershipsReply(BusMessage):
    memberships: list[Membership] = Field(default_factory=list)
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
