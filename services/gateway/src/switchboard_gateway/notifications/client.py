"""The gateway's side of the notification commands (``notify.cmd.*``)."""

from typing import TypeVar

from switchboard_contracts import BusError, BusMessage, subjects
from switchboard_contracts.notify import (
    BroadcastReply,
    BroadcastRequest,
    InboxReply,
    InboxRequest,
    NotifySendReply,
    NotifySendRequest,
    ReadReply,
    ReadRequest,
    RegisterReply,
    RegisterRequest,
)
from switchboard_runtime import Bus
from switchboard_runtime.ask import ask

__all__ = ["NotifyClient", "NotifyUnavailableError"]

Rep = TypeVar("Rep", bound=BusMessage)


class NotifyUnavailableError(RuntimeError):
    """A notification command got no answer; the message says which."""


class NotifyClient:
    def __init__(self, bus: Bus, timeout: float) -> None:
        self._bus = bus
        self._timeout = timeout

    async def send(self, request: NotifySendRequest) -> NotifySendReply:
        return await self._ask(subjects.NOTIFY_SEND, request, NotifySendReply)

    async def broadcast(self, request: BroadcastRequest) -> BroadcastReply:
        return await self._ask(subjects.NOTIFY_BROADCAST, request, BroadcastReply)

    async def read(self, request: ReadRequest) -> ReadReply:
        return await self._ask(subjects.NOTIFY_READ, request, ReadReply)

    async def inbox(self, request: InboxRequest) -> InboxReply:
        return await self._ask(subjects.NOTIFY_INBOX, request, InboxReply)

    async def register(self, user_id: str, teams: list[str] | None) -> None:
        reply = await self._ask(
            subjects.NOTIFY_REGISTER, RegisterRequest(user_id=user_id, teams=teams), RegisterReply
        )
        if reply.error is not None:
            raise NotifyUnavailableError(reply.error.message)

    async def _ask(self, subject: str, request: BusMessage, reply_type: type[Rep]) -> Rep:
        reply = await ask(self._bus.nc, subject, request, reply_type, self._timeout)
        if isinstance(reply, BusError):
            return reply_type.model_validate({"error": reply.model_dump()})
        return reply
