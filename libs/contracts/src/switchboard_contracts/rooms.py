"""Rooms and their membership on the bus: gateway <-> chat <-> persistence."""

from typing import Annotated

from pydantic import Field

from switchboard_contracts.errors import BusError
from switchboard_contracts.ids import ID_PATTERN
from switchboard_contracts.input_rules import Int64
from switchboard_contracts.message import BusMessage

__all__ = [
    "MAX_ROOM_MEMBERS",
    "MAX_ROOM_NAME_LENGTH",
    "Room",
    "RoomAccessReply",
    "RoomAccessRequest",
    "RoomCreateRequest",
    "RoomGetRequest",
    "RoomListReply",
    "RoomListRequest",
    "RoomReply",
]

MAX_ROOM_NAME_LENGTH = 100
MAX_ROOM_MEMBERS = 1000

Id = Annotated[str, Field(pattern=f"^{ID_PATTERN.pattern}$")]
Name = Annotated[str, Field(min_length=1, max_length=MAX_ROOM_NAME_LENGTH)]


class Room(BusMessage):
    """A created room. Rooms nobody created exist implicitly and are public."""

    id: Id
    name: Name
    private: bool = False
    members: list[Id] = Field(default_factory=list)
    created_by: str | None = None
    created_at: Int64 = 0


class RoomCreateRequest(BusMessage):
    """gateway -> chat (``chat.cmd.room.create``); chat -> persistence with the id filled in."""

    name: Name
    id: Id | None = None
    private: bool = False
    members: Annotated[list[Id], Field(max_length=MAX_ROOM_MEMBERS)] = Field(default_factory=list)
    created_by: Id


class RoomReply(BusMessage):
    """The room (``None`` when asked for one that was never created) or why it could not be."""

    room: Room | None = None
    error: BusError | None = None


class RoomGetRequest(BusMessage):
    """chat -> persistence (``chat.cmd.store.room-get``)."""

    room: str


class RoomListRequest(BusMessage):
    """``chat.cmd.room.list`` and ``chat.cmd.store.room-list``: the rooms ``user_id`` may see."""

    user_id: str


class RoomListReply(BusMessage):
    rooms: list[Room] = Field(default_factory=list)
    error: BusError | None = None


class RoomAccessRequest(BusMessage):
    """gateway -> chat (``chat.cmd.room.access``): may ``user_id`` join, read and write ``room``?"""

    room: str
    user_id: str


class RoomAccessReply(BusMessage):
    allowed: bool = False
    reason: str | None = None
    error: BusError | None = None
