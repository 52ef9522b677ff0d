"""python-socketio's client manager over our NATS connection.

With it, every gateway replica's Socket.IO server shares rooms and emits: an emit to a room, a
disconnect or a room change for a client held by another replica reaches it through the
``gateway.socketio`` subject. (Dashboard events need none of this: every gateway gets them from
the bus itself and emits them to its own clients only, with ``ignore_queue``.)
"""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from socketio.async_pubsub_manager import AsyncPubSubManager
from switchboard_contracts import subjects
from switchboard_runtime import Bus

__all__ = ["NatsManager"]


class NatsManager(AsyncPubSubManager):  # type: ignore[misc]
    name = "nats"

    def __init__(self, bus: Bus, channel: str = subjects.SOCKETIO_CHANNEL) -> None:
        super().__init__(channel=channel, write_only=False, json=json)
        self._bus = bus

    async def _publish(self, data: Any) -> None:
        if self._bus.connected:
            await self._bus.nc.publish(self.channel, self.json.dumps(data).encode())

    async def _listen(self) -> AsyncIterator[bytes]:
        subscription = await self._bus.nc.subscribe(self.channel)
        try:
            async for message in subscription.messages:
                yield message.data
        finally:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()

    async def close(self) -> None:
        """Stop listening (before the bus closes, so that the listener does not see it end)."""
        thread = getattr(self, "thread", None)
        if isinstance(thread, asyncio.Future):
            thread.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await thread
