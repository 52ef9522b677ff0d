"""The gateway's side of the request/reply subjects of chat (and persistence's history)."""

from typing import TypeVar

from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from switchboard_contracts import (
    BusError,
    BusMessage,
    ChatSendReply,
    ChatSendRequest,
    ErrorCode,
    HistoryReply,
    HistoryRequest,
    subjects,
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

Reply = TypeVar("Reply", bound=BusMessage)


class ChatClient:
    def __init__(self, bus: Bus, timeout: float) -> None:
        self._bus = bus
        self._timeout = timeout

    async def send(self, request: ChatSendRequest) -> ChatSendReply:
        return await self._request(subjects.CHAT_SEND, request, ChatSendReply)

    async def history(self, request: HistoryRequest) -> HistoryReply:
        return await self._request(subjects.CHAT_HISTORY, request, HistoryReply)

    async def last_seq(self, room: str) -> LastSeqReply:
        return await self._request(subjects.CHAT_LAST_SEQ, LastSeqRequest(room=room), LastSeqReply)

    async def access(self, room: str, user_id: str) -> RoomAccessReply:
        return await self._request(
            subjects.CHAT_ROOM_ACCESS,
            RoomAccessRequest(room=room, user_id=user_id),
            RoomAccessReply,
        )

    async def create_room(self, request: RoomCreateRequest) -> RoomReply:
        return await self._request(subjects.CHAT_ROOM_CREATE, request, RoomReply)

    async def rooms(self, user_id: str) -> RoomListReply:
        return await self._request(
            subjects.CHAT_ROOM_LIST, RoomListRequest(user_id=user_id), RoomListReply
        )

    async def presence(self, room: str, min_revision: int = 0) -> PresenceReply:
        return await self._request(
            subjects.CHAT_PRESENCE_SNAPSHOT,
            PresenceRequest(room=room, min_revision=min_revision),
            PresenceReply,
        )

    async def _request(self, subject: str, request: BusMessage, reply: type[Reply]) -> Reply:
        try:
            answer = await self._bus.request(subject, request.encode(), timeout=self._timeout)
        except (NatsTimeoutError, NoRespondersError):
            error = BusError(
                code=ErrorCode.UNAVAILABLE, message=f"{subject} did not answer in time; retry"
            )
            return reply.model_validate({"error": error})
        return reply.decode(answer.data)
