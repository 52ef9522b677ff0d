"""Erasing a user's content (docs/protocol.md §4, "Erase a user"): the request a gateway makes
of persistence and the report it gets back."""

from pydantic import Field

from switchboard_contracts.errors import BusError
from switchboard_contracts.input_rules import Int64
from switchboard_contracts.message import BusMessage

__all__ = ["ERASER_ID", "RoomErased", "UserEraseReply", "UserEraseRequest"]

ERASER_ID = "switchboard:erase"
"""The sender of the deletions an erasure publishes (a user id no token can carry: ``:``)."""


class UserEraseRequest(BusMessage):
    """gateway -> persistence (``chat.cmd.user-erase``): erase everything ``user_id`` wrote."""

    user_id: str


class RoomErased(BusMessage):
    """What an erasure changed in one room: messages made tombstones, edits blanked, reaction
    events (``react`` and ``unreact``) blanked, their reactions taken off the messages, the
    user's read mark removed (``reads``: 0 or 1)."""

    messages: Int64 = 0
    edits: Int64 = 0
    reactions: Int64 = 0
    reads: Int64 = 0


class UserEraseReply(BusMessage):
    """The report: per room, what was erased now (nothing for what an earlier erasure did);
    ``stream_messages_removed``: the user's events deleted from the CHAT stream;
    ``stream_messages_kept``: the user's events left in it because each is its room's newest
    (deleting it would let the room's next message reuse its seq)."""

    user_id: str = ""
    rooms: dict[str, RoomErased] = Field(default_factory=dict)
    stream_messages_removed: Int64 = 0
    stream_messages_kept: Int64 = 0
    error: BusError | None = None
