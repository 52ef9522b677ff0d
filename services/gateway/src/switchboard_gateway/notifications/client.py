"""The gateway's side of the notification commands (``notify.cmd.*``)."""

from switchboard_contracts import endpoints
from switchboard_contracts.notify import (
    BroadcastReply,
    BroadcastRequest,
    InboxReply,
    InboxRequest,
    Membership,
    MembershipsRequest,
    NotifySendReply,
    NotifySendRequest,
    ReadReply,
    ReadRequest,
    RegisterRequest,
)
from switchboard_runtime import Bus, UnavailableError

__all__ = ["NotificationsClient", "NotificationsUnavailableError"]


class NotificationsUnavailableError(UnavailableError):
    """A notification command got no answer; the message says which."""


class NotificationsClient:
    """Each method's reply carries ``error`` when the request failed, ``unavailable`` when
    nobody answered in time (``Bus.ask``)."""

    def __init__(self, bus: Bus, timeout: float) -> None:
        self._bus = bus
        self._timeout = timeout

    async def send(self, request: NotifySendRequest) -> NotifySendReply:
        return await self._bus.ask(endpoints.NOTIFICATION_SEND, request, timeout=self._timeout)

    async def broadcast(self, request: BroadcastRequest) -> BroadcastReply:
        return await self._bus.ask(endpoints.NOTIFICATION_BROADCAST, request, timeout=self._timeout)

    async def read(self, request: ReadRequest) -> ReadReply:
        return await self._bus.ask(endpoints.NOTIFICATION_READ, request, timeout=self._timeout)

    async def inbox(self, request: InboxRequest) -> InboxReply:
        return await self._bus.ask(
            endpoints.PERSISTENCE_NOTIFY_INBOX, request, timeout=self._timeout
        )

    async def register(self, user_id: str, teams: list[str] | None) -> None:
        reply = await self._bus.ask(
            endpoints.PERSISTENCE_NOTIFY_REGISTER,
            RegisterRequest(user_id=user_id, teams=teams),
            timeout=self._timeout,
        )
        if reply.error is not None:
            raise NotificationsUnavailableError(reply.error.message)

    async def memberships(self, user_id: str) -> list[Membership]:
        """The user's audiences, past and present, as intervals of positions."""
        reply = await self._bus.ask(
            endpoints.PERSISTENCE_NOTIFY_MEMBERSHIPS,
            MembershipsRequest(user_id=user_id),
            timeout=self._timeout,
        )
        if reply.error is not None:
            raise NotificationsUnavailableError(reply.error.message)
        return reply.memberships

    async def audiences(self, user_id: str) -> set[str]:
        """The audiences the user belongs to now."""
        return {m.audience for m in await self.memberships(user_id) if m.to_cursor is None}
