"""Read state: a read is stored by persistence, then every open stream of the user hears the
new unread count (core NATS, ephemeral).

The count goes out on the user's live subject, marked with ``EVENT_HEADER``, where gateways
already hear the user's entries (one subscription per user), and then once more on the legacy
``notify.unread.<user>`` for gateways of the previous release during a rolling upgrade.
"""

from switchboard_contracts import BusError, ErrorCode, InvalidIdError, endpoints, subjects
from switchboard_contracts.ids import validate_user_id
from switchboard_contracts.notify import (
    EVENT_HEADER,
    UNREAD_EVENT,
    MarkReadRequest,
    ReadReply,
    ReadRequest,
    UnreadEvent,
)
from switchboard_runtime import Bus

from switchboard_notification.sender import NotificationSender

__all__ = ["ReadHandler"]

UNREAD_HEADERS = {EVENT_HEADER: UNREAD_EVENT}


class ReadHandler:
    def __init__(self, bus: Bus, sender: NotificationSender, timeout: float) -> None:
        self._bus = bus
        self._sender = sender
        self._timeout = timeout

    async def read(self, request: ReadRequest) -> ReadReply:
        try:
            user = validate_user_id(request.user_id)
        except InvalidIdError as err:
            return ReadReply(error=BusError(code=ErrorCode.INVALID_USER, message=str(err)))
        # read-all covers what the user's inbox holds now, not what arrives meanwhile
        upto = await self._sender.newest_position() if request.notification_id is None else None
        reply = await self._bus.ask(
            endpoints.PERSISTENCE_NOTIFY_MARK_READ,
            MarkReadRequest(user_id=user, notification_id=request.notification_id, upto=upto),
            timeout=self._timeout,
        )
        if reply.error is not None:
            return ReadReply(error=reply.error)
        event = UnreadEvent(user_id=user, unread_count=reply.unread_count, version=reply.version)
        data = event.encode()
        # Core publishes without trace headers: an unread event carries our header only, and
        # the legacy one none at all (what gateways of the previous release decode).
        nc = self._bus.nc
        await nc.publish(subjects.notify_live(user), data, headers=UNREAD_HEADERS)
        await nc.publish(subjects.notify_unread(user), data)  # previous-release gateways
        return ReadReply(unread_count=reply.unread_count)
