"""Room fan-out: one subscription per room with local members, one encoded frame per message."""

import logging
from collections.abc import Callable

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from pydantic import ValidationError
from switchboard_contracts import ChatMessage, subjects
from switchboard_runtime import Bus

from switchboard_gateway.frames import chat_frame
from switchboard_gateway.metrics import TimedFrame

__all__ = ["RoomHub"]

log = logging.getLogger(__name__)

Deliver = Callable[[str], None]


class RoomHub:
    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        self._members: dict[str, set[Deliver]] = {}
        self._subscriptions: dict[str, Subscription] = {}

    def member_count(self) -> int:
        return sum(len(members) for members in self._members.values())

    async def join(self, room: str, deliver: Deliver) -> None:
        self._members.setdefault(room, set()).add(deliver)
        if room not in self._subscriptions:
            self._subscriptions[room] = await self._bus.subscribe(
                subjects.chat_live(room), cb=self._on_message
            )

    async def leave(self, room: str, deliver: Deliver) -> None:
        members = self._members.get(room)
        if members is None:
            return
        members.discard(deliver)
        if not members:
            del self._members[room]
            subscription = self._subscriptions.pop(room, None)
            if subscription is not None:
                await subscription.unsubscribe()

    async def _on_message(self, msg: Msg) -> None:
        try:
            message = ChatMessage.decode(msg.data)
        except ValidationError:
            log.warning("ignoring an undecodable message on %s", msg.subject)
            return
        # encoded once, whatever the number of members; timed from chat's acceptance
        text = TimedFrame(chat_frame(message), message.timestamp / 1000)
        for deliver in tuple(self._members.get(message.room, ())):
            deliver(text)
