"""The gateway's side of the chat service's request/reply subjects."""

from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from switchboard_contracts import (
    BusError,
    ChatSendReply,
    ChatSendRequest,
    ErrorCode,
    HistoryReply,
    HistoryRequest,
    subjects,
)
from switchboard_runtime import Bus

__all__ = ["ChatClient"]


class ChatClient:
    def __init__(self, bus: Bus, timeout: float) -> None:
        self._bus = bus
        self._timeout = timeout

    async def send(self, request: ChatSendRequest) -> ChatSendReply:
        data = await self._request(subjects.CHAT_SEND, request.encode())
        return (
            ChatSendReply(error=data) if isinstance(data, BusError) else ChatSendReply.decode(data)
        )

    async def history(self, request: HistoryRequest) -> HistoryReply:
        data = await self._request(subjects.CHAT_HISTORY, request.encode())
        return HistoryReply(error=data) if isinstance(data, BusError) else HistoryReply.decode(data)

    async def _request(self, subject: str, payload: bytes) -> bytes | BusError:
        try:
            reply = await self._bus.request(subject, payload, timeout=self._timeout)
        except (NatsTimeoutError, NoRespondersError):
            return BusError(
                code=ErrorCode.UNAVAILABLE, message=f"{subject} did not answer in time; retry"
            )
        return reply.data
