"""Read marks of rooms (docs/protocol.md §2, "Read receipts"): gateway <-> persistence, and the
live event gateways tell each other.

A mark is state, not an event of the room: each (room, user) has one ``seq`` that only grows.
Persistence alone stores it (``room_reads``) and counts what is unread after it.
"""

from typing import Annotated

from pydantic import Field

from switchboard_contracts.errors import BusError
from switchboard_contracts.ids import ID_PATTERN
from switchboard_contracts.input_rules import Int64
from switchboard_contracts.message import BusMessage

__all__ = [
    "MAX_READ_STATES",
    "MAX_UNREAD_COUNTED",
    "ROOM_READ_EVENT",
    "ReadEvent",
    "ReadMarkReply",
    "ReadMarkRequest",
    "ReadState",
    "ReadStatesReply",
    "ReadStatesRequest",
]

MAX_UNREAD_COUNTED = 1000
"""An unread count stops at this: it reads "this many or more"."""
MAX_READ_STATES = 1000
"""Rooms asked about in one ``ReadStatesRequest``."""
ROOM_READ_EVENT = "room-read"
"""``notify.EVENT_HEADER``'s value for a ``ReadEvent`` on ``notify.live.<user>``."""

Id = Annotated[str, Field(pattern=f"^{ID_PATTERN.pattern}$")]
Seq = Annotated[Int64, Field(ge=0)]


class ReadMarkRequest(BusMessage):
    """gateway -> persistence (``chat.cmd.store.read-mark``): ``user_id`` read ``room`` up to
    ``seq``, already clamped by the gateway to the room's head ``upto``."""

    room: Id
    user_id: Id
    seq: Seq
    upto: Seq


class ReadState(BusMessage):
    """A user's mark in a room and what is unread after it: messages from others, not
    deleted, with a ``seq`` in (``seq``, ``upto``], at most ``MAX_UNREAD_COUNTED``."""

    room: Id
    user_id: Id
    seq: Seq = 0
    unread_count: Annotated[int, Field(ge=0)] = 0
    upto: Seq = 0


class ReadMarkReply(BusMessage):
    """The state once the mark is stored (its ``seq`` the greatest ever marked), or why not."""

    state: ReadState | None = None
    error: BusError | None = None


class ReadStatesRequest(BusMessage):
    """gateway -> persistence (``chat.cmd.store.read-states``): ``user_id``'s state in each of
    ``rooms``, counted up to the room's head in ``heads`` (aligned with ``rooms``; the gateway
    reads them from the stream, which persistence may lag); a head that is None or missing:
    the room's newest stored ``seq``."""

    user_id: Id
    rooms: Annotated[list[Id], Field(max_length=MAX_READ_STATES)]
    heads: Annotated[list[Seq | None], Field(max_length=MAX_READ_STATES)] = Field(
        default_factory=list
    )


class ReadStatesReply(BusMessage):
    states: list[ReadState] = Field(default_factory=list)
    error: BusError | None = None


class ReadEvent(BusMessage):
    """gateway -> gateways, already coalesced by the marking gateway: on ``chat.read.<room>``
    for the room's members, and on ``notify.live.<user>`` (header ``ROOM_READ_EVENT``) for the
    user's own connections."""

    state: ReadState
