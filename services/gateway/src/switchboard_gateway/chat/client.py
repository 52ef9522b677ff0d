"""The gateway's side of the request/reply endpoints of chat (and persistence's history)."""

from switchboard_contracts import (
    ChatSendReply,
    ChatSendRequest,
    HistoryReply,
    HistoryRequest,
    endpoints,
)
from switchboard_contracts.chat import LastSeqReply, LastSeqRequest
from switchboard_contracts.presence import PresenceReply, PresenceRequest
from switchboard_contracts.rooms import (
    RoomAccessReply,
    RoomAccessRequest,
    RoomCreateRequest,
    RoomListReply,
    RoomListRequest,
    RoomReply,
)
from switchboard_runtime import Bus

__all__ = ["ChatClient"]


class ChatClient:
    """Each method's reply carries ``error`` when the request failed, ``unavailable`` when
    nobody answered in time (``Bus.ask``)."""

    def __init__(self, bus: Bus, timeout: float) -> None:
        self._bus = bus
        self._timeout = timeout

    async def send(self, request: ChatSendRequest) -> ChatSendReply:
        return await self._bus.ask(endpoints.CHAT_SEND, request, timeout=self._timeout)

    async def history(self, request: HistoryRequest) -> HistoryReply:
        return await self._bus.ask(
            endpoints.PERSISTENCE_CHAT_HISTORY, request, timeout=self._timeout
        )

    async def last_seq(self, room: str) -> LastSeqReply:
        return await self._bus.ask(
            endpoints.PERSISTENCE_CHAT_LAST_SEQ, LastSeqRequest(room=room), timeout=self._timeout
        )

    async def access(self, room: str, user_id: str) -> RoomAccessReply:
        return await self._bus.ask(
            endpoints.CHAT_ROOM_ACCESS,
            RoomAccessRequest(room=room, user_id=user_id),
            timeout=self._timeout,
        )

    async def create_room(self, request: RoomCreateRequest) -> RoomReply:
        return await self._bus.ask(endpoints.CHAT_ROOM_CREATE, request, timeout=self._timeout)

    async def rooms(self, user_id: str) -> RoomListReply:
        return await self._bus.ask(
            endpoints.CHAT_ROOM_LIST, RoomListRequest(user_id=user_id), timeout=self._timeout
        )

    async def presence(self, room: str, min_revision: int = 0) -> PresenceReply:
        return await self._bus.ask(
            endpoints.CHAT_PRESENCE,
            PresenceRequest(room=room, min_revision=min_revision),
            timeout=self._timeout,
        )
