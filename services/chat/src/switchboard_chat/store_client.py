"""Chat's side of persistence's request/reply endpoints (chat never talks to PostgreSQL itself)."""

from typing import TypeVar

from switchboard_contracts import BusError, BusMessage, ChatMessage, endpoints
from switchboard_contracts.chat import LastSeqRequest, MessagesGetRequest
from switchboard_contracts.endpoints import Endpoint
from switchboard_contracts.rooms import Room, RoomGetRequest, RoomListRequest, RoomReply
from switchboard_runtime import Bus, BusUnavailableError, UnavailableError

__all__ = ["StoreClient", "StoreUnavailableError"]

Req = TypeVar("Req", bound=BusMessage)
Rep = TypeVar("Rep", bound=BusMessage)


class StoreUnavailableError(UnavailableError):
    """Persistence did not answer in time, or answered with an error."""


class StoreClient:
    def __init__(self, bus: Bus, timeout: float) -> None:
        self._bus = bus
        self._timeout = timeout

    async def last_seq(self, room: str) -> int:
        reply = await self._ask(endpoints.PERSISTENCE_CHAT_LAST_SEQ, LastSeqRequest(room=room))
        _raise_for(reply.error)
        return reply.seq

    async def messages(self, message_ids: list[str], timeout: float) -> list[ChatMessage]:
        """The stored ones among ``message_ids`` (one request for them all)."""
        reply = await self._ask(
            endpoints.PERSISTENCE_MESSAGES_GET, MessagesGetRequest(ids=message_ids), timeout
        )
        _raise_for(reply.error)
        return reply.messages

    async def create_room(self, room: Room) -> RoomReply:
        """The created room, or the error persistence answered (a conflict)."""
        return await self._ask(endpoints.PERSISTENCE_ROOM_CREATE, room)

    async def room(self, room_id: str) -> Room | None:
        reply = await self._ask(endpoints.PERSISTENCE_ROOM_GET, RoomGetRequest(room=room_id))
        _raise_for(reply.error)
        return reply.room

    async def rooms_visible_to(self, user_id: str) -> list[Room]:
        reply = await self._ask(endpoints.PERSISTENCE_ROOM_LIST, RoomListRequest(user_id=user_id))
        _raise_for(reply.error)
        return reply.rooms

    async def _ask(
        self, endpoint: Endpoint[Req, Rep], request: Req, timeout: float | None = None
    ) -> Rep:
        """The reply; ``StoreUnavailableError`` when persistence did not answer in time."""
        try:
            return await self._bus.ask(
                endpoint, request, timeout=timeout or self._timeout, raise_unanswered=True
            )
        except BusUnavailableError as err:
            raise StoreUnavailableError(str(err)) from err


def _raise_for(error: BusError | None) -> None:
    if error is not None:
        raise StoreUnavailableError(error.message)
