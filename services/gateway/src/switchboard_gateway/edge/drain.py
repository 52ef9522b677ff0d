"""The gateway's graceful drain: once asked to stop, close every connection with 1012 in paced,
jittered batches within the drain window, telling each client when to reconnect.

Connections register while open. ``run`` takes the connections open at that moment, plans their
closes (``drain_plan``) and carries the plan out; a connection that arrives afterwards is closed
at once. The window is half of ``SHUTDOWN_TIMEOUT_SECONDS`` (the chart's ``drainSeconds``): the
other half is left for requests in flight and the shutdown of the process.
"""

import asyncio
import logging
import random
import time
from collections.abc import Callable
from typing import Protocol

from switchboard_protocol import CloseCode, format_hint

from switchboard_gateway.edge.drain_plan import plan_drain

__all__ = [
    "Drain",
    "Drainable",
    "SocketDrainable",
    "StreamDrainable",
]

log = logging.getLogger(__name__)


SETTLE_SECONDS = 1.0
"""How long ``Drain.run`` waits, after telling the last connection, for the closes it began to
be written (before the server's own shutdown closes what is left, without a hint)."""


class Drainable(Protocol):
    def drained(self, reconnect_ms: int) -> None:
        """End the connection now; its client should reconnect after ``reconnect_ms``."""

    async def settled(self) -> None:
        """Until what ``drained`` began has been written."""


class _Closes(Protocol):
    def close(self, code: int, reason: str = "") -> None: ...

    async def stop(self) -> None:
        """A close begun by ``close`` is finished first."""


class SocketDrainable:
    """A WebSocket (its outbox): closed with 1012 and the delay in the reason."""

    def __init__(self, socket: _Closes) -> None:
        self._socket = socket

    def drained(self, reconnect_ms: int) -> None:
        self._socket.close(CloseCode.SERVICE_RESTART, format_hint(reconnect_ms))

    async def settled(self) -> None:
        await self._socket.stop()


class StreamDrainable:
    """An SSE stream: its producer waits on ``ended``, then sends ``retry: <reconnect_ms>`` (the
    browser's reconnect delay) and ends the response."""

    def __init__(self, on_drained: Callable[[], None] = lambda: None) -> None:
        """``on_drained`` wakes the producer wherever it waits."""
        self.ended = asyncio.Event()
        self.reconnect_ms = 0
        self._on_drained = on_drained

    def drained(self, reconnect_ms: int) -> None:
        self.reconnect_ms = reconnect_ms
        self.ended.set()
        self._on_drained()

    async def settled(self) -> None:
        """Nothing to wait for: the server's shutdown waits for the response to end."""


class Drain:
    def __init__(
        self,
        window_seconds: float,
        batch_size: int,
        max_reconnect_ms: int,
        rand: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.window_seconds = window_seconds
        self.batch_size = batch_size
        self.max_reconnect_ms = max_reconnect_ms
        self._rand = rand
        self._open: set[Drainable] = set()
        self.started = False
        self.done = asyncio.Event()

    def track(self, connection: Drainable) -> None:
        """A connection opened; during a drain it is closed at once (the client goes elsewhere)."""
        if self.started:
            connection.drained(self._jitter_ms())
            return
        self._open.add(connection)

    def untrack(self, connection: Drainable) -> None:
        self._open.discard(connection)

    @property
    def open_count(self) -> int:
        return len(self._open)

    def _jitter_ms(self) -> int:
        return round(self._rand(0.0, float(self.max_reconnect_ms)))

    async def run(self) -> None:
        """Close every open connection as planned; returns when the last one was told and the
        closes are written (at most ``SETTLE_SECONDS`` later): the server's own shutdown, which
        waits for this, would otherwise close a socket whose close task had not run yet with a
        1012 of its own, without the reconnect hint."""
        if self.started:
            await self.done.wait()
            return
        self.started = True
        connections = list(self._open)
        plan = plan_drain(
            len(connections),
            self.window_seconds,
            self.batch_size,
            self.max_reconnect_ms,
            self._rand,
        )
        log.info("draining %d connections within %.1f s", len(connections), self.window_seconds)
        began = time.monotonic()
        told: list[Drainable] = []
        try:
            for connection, offset, delay_ms in zip(
                connections, plan.offsets, plan.reconnect_ms, strict=True
            ):
                wait = began + offset - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if connection in self._open:
                    connection.drained(delay_ms)
                    told.append(connection)
            settling = asyncio.gather(*(connection.settled() for connection in told))
            try:
                await asyncio.wait_for(settling, SETTLE_SECONDS)
            except TimeoutError:
                log.warning(
                    "some drained connections were not closed within %.1f s", SETTLE_SECONDS
                )
        finally:
            self.done.set()
