"""Chat's side of persistence's request/reply subjects (chat never talks to PostgreSQL itself)."""

from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from switchboard_contracts import BusMessage, ChatMessage, subjects
from switchboard_contracts.chat import (
    LastSeqReply,
    LastSeqRequest,
    MessagesGetReply,
    MessagesGetRequest,
)
from switchboard_contracts.rooms import (
    Room,
    RoomGetRequest,
    RoomListReply,
    RoomListRequest,
    RoomReply,
)
from switchboard_runtime import Bus

__all__ = ["StoreClient", "StoreUnavailableError"]


class StoreUnavailableError(RuntimeError):
    """Persistence did not answer in time, or answered with an error."""


class StoreClient:
    def __init__(self, bus: Bus, timeout: float) -> None:
        self._bus = bus
        self._timeout = timeout

    async def last_seq(self, room: str) -> int:
        reply = LastSeqReply.decode(
            await self._request(subjects.CHAT_LAST_SEQ, LastSeqRequest(room=room), self._timeout)
        )
        if reply.error is not None:
            raise StoreUnavailableError(reply.error.message)
        return reply.seq

    async def messages(self, message_ids: list[str], timeout: float) -> list[ChatMessage]:
        """The stored ones among ``message_ids`` (one request for them all)."""
        reply = MessagesGetReply.decode(
            await self._request(
                subjects.STORE_MESSAGES_GET, MessagesGetRequest(ids=message_ids), timeout
            )
        )
        if reply.error is not None:
            raise StoreUnavailableError(reply.error.message)
        return reply.messages

    async def create_room(self, room: Room) -> RoomReply:
        return RoomReply.decode(
            await self._request(subjects.STORE_ROOM_CREATE, room, self._timeout)
        )

    async def room(self, room_id: str) -> Room | None:
        reply = RoomReply.decode(
            await self._request(
                subjects.STORE_ROOM_GET, RoomGetRequest(room=room_id), self._timeout
            )
        )
        if reply.error is not None:
            raise StoreUnavailableError(reply.error.message)
        return reply.room

    async def rooms_visible_to(self, user_id: str) -> list[Room]:
        reply = RoomListReply.decode(
            await self._request(
                subjects.STORE_ROOM_LIST, RoomListRequest(user_id=user_id), self._timeout
            )
        )
        if reply.error is not None:
            raise StoreUnavailableError(reply.error.message)
        return reply.rooms

    async def _request(self, subject: str, message: BusMessage, timeout: float) -> bytes:
        try:
            reply = await self._bus.request(subject, message.encode(), timeout=timeout)
        except (NatsTimeoutError, NoRespondersError) as err:
            raise StoreUnavailableError(f"{subject} did not answer in time") from err
        return reply.data
