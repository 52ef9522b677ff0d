"""Rooms and membership: creating rooms, listing them, deciding who may join.

A room nobody created exists implicitly and is public, so any client can use any room id; a
created room may be private, and then only its members may join, read and write it. Rooms are
stored by persistence; chat decides.
"""

import secrets
import time
from collections.abc import Callable

from switchboard_contracts import BusError, ErrorCode
from switchboard_contracts.rooms import (
    Room,
    RoomAccessReply,
    RoomAccessRequest,
    RoomCreateRequest,
    RoomListReply,
    RoomListRequest,
    RoomReply,
)

from switchboard_chat.store_client import StoreClient, StoreUnavailableError

__all__ = ["RoomService", "decide_access", "new_room"]


def _now_ms() -> int:
    return int(time.time() * 1000)


def new_room(request: RoomCreateRequest, now_ms: int) -> Room | BusError:
    """The room a create request describes: trimmed name, a generated id, the creator a member."""
    name = request.name.strip()
    if not name:
        return BusError(code=ErrorCode.INVALID_INPUT, message="name must not be empty")
    return Room(
        id=request.id or f"room-{secrets.token_hex(6)}",
        name=name,
        private=request.private,
        members=sorted({*request.members, request.created_by}),
        created_by=request.created_by,
        created_at=now_ms,
    )


def decide_access(room_id: str, room: Room | None, user_id: str) -> RoomAccessReply:
    if room is None or not room.private or user_id in room.members:
        return RoomAccessReply(allowed=True)
    return RoomAccessReply(
        allowed=False, reason=f"room {room_id} is private and {user_id} is not a member"
    )


def _unavailable(err: StoreUnavailableError) -> BusError:
    return BusError(code=ErrorCode.UNAVAILABLE, message=f"{err}; retry")


class RoomService:
    def __init__(self, store: StoreClient, now_ms: Callable[[], int] = _now_ms) -> None:
        self._store = store
        self._now_ms = now_ms

    async def create(self, request: RoomCreateRequest) -> RoomReply:
        room = new_room(request, self._now_ms())
        if isinstance(room, BusError):
            return RoomReply(error=room)
        try:
            return await self._store.create_room(room)
        except StoreUnavailableError as err:
            return RoomReply(error=_unavailable(err))

    async def list(self, request: RoomListRequest) -> RoomListReply:
        try:
            return RoomListReply(rooms=await self._store.rooms_visible_to(request.user_id))
        except StoreUnavailableError as err:
            return RoomListReply(error=_unavailable(err))

    async def access(self, request: RoomAccessRequest) -> RoomAccessReply:
        try:
            room = await self._store.room(request.room)
        except StoreUnavailableError as err:
            return RoomAccessReply(error=_unavailable(err))
        return decide_access(request.room, room, request.user_id)
