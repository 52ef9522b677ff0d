"""One connection's outgoing frames: a bounded queue drained by one writer task.

Fan-out only ever calls ``offer``, which never waits; a client that cannot keep up fills its
queue and is closed with 1013, so it cannot slow anyone else down. It resumes with ``since``.
Answers to the client's own requests (a replay, a history page) use ``send``, which waits for
room while the client reads, and closes it with 1013 only when it stops reading.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Protocol

from starlette.websockets import WebSocket, WebSocketDisconnect
from switchboard_protocol import CloseCode
from switchboard_runtime.patches.light_event import LightEvent

from switchboard_gateway.metrics import SLOW_CLIENT_DISCONNECTS

__all__ = ["Outbox", "Outgoing"]

log = logging.getLogger(__name__)


class Outgoing(Protocol):
    """What sessions and rooms need of a connection's outgoing frames: this module's
    ``Outbox`` (through ASGI) or ``direct_outbox.DirectOutbox`` (straight to the socket)."""

    max_frames: int
    closed: LightEvent
    close_code: int | None
    on_close: Callable[[], None] | None
    """Called once ``close`` closed it (the session wakes its pending ``receive``)."""

    @property
    def pending(self) -> int: ...

    def start(self) -> None: ...

    def offer(self, text: str) -> None: ...

    async def send(self, text: str) -> None: ...

    def close(self, code: int, reason: str = "") -> None: ...

    async def stop(self) -> None: ...


class Outbox:
    def __init__(self, websocket: WebSocket, max_frames: int, send_timeout: float = 10.0) -> None:
        self._websocket = websocket
        self._queue: asyncio.Queue[str] = asyncio.Queue(max_frames)
        self._send_timeout = send_timeout
        self._writer: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None
        self.max_frames = max_frames
        self.closed = LightEvent()
        self.close_code: int | None = None
        self.on_close: Callable[[], None] | None = None

    @property
    def pending(self) -> int:
        """Frames queued and not yet written (how far behind the client is)."""
        return self._queue.qsize()

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write())

    def offer(self, text: str) -> None:
        if self.closed.is_set():
            return
        try:
            self._queue.put_nowait(text)
        except asyncio.QueueFull:
            SLOW_CLIENT_DISCONNECTS.labels("websocket").inc()
            log.info("closing a connection that is too slow to read its frames")
            self.close(CloseCode.TRY_AGAIN_LATER, "too slow: resume with since")

    async def send(self, text: str) -> None:
        if self.closed.is_set():
            return
        try:
            await asyncio.wait_for(self._queue.put(text), self._send_timeout)
        except TimeoutError:
            log.info("closing a connection that stopped reading its replay")
            self.close(CloseCode.TRY_AGAIN_LATER, "too slow: resume with since")

    def close(self, code: int, reason: str = "") -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        self.close_code = code
        if self._writer is not None:
            self._writer.cancel()
        self._closing = asyncio.create_task(self._close(code, reason))
        if self.on_close is not None:
            self.on_close()

    async def stop(self) -> None:
        """Stop writing; a close begun by ``close`` is finished first."""
        self.closed.set()
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
        if self._closing is not None:
            await self._closing

    async def _close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await self._websocket.close(code, reason)

    async def _write(self) -> None:
        try:
            while True:
                text = await self._queue.get()
                await self._websocket.send_text(text)
        except (WebSocketDisconnect, RuntimeError, OSError):
            self.closed.set()
