"""One connection's outgoing frames: a bounded queue drained by one writer task.

Fan-out only ever calls ``offer``, which never waits; a client that cannot keep up fills its
queue and is closed with 1013, so it cannot slow anyone else down. It resumes with ``since``.
"""

import asyncio
import contextlib
import logging

from starlette.websockets import WebSocket, WebSocketDisconnect

__all__ = ["CLOSE_TRY_AGAIN_LATER", "Outbox"]

log = logging.getLogger(__name__)

CLOSE_TRY_AGAIN_LATER = 1013


class Outbox:
    def __init__(self, websocket: WebSocket, max_frames: int) -> None:
        self._websocket = websocket
        self._queue: asyncio.Queue[str] = asyncio.Queue(max_frames)
        self._writer: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()

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
            log.info("closing a connection that is too slow to read its frames")
            self.close(CLOSE_TRY_AGAIN_LATER, "too slow: resume with since")

    def close(self, code: int, reason: str = "") -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        if self._writer is not None:
            self._writer.cancel()
        asyncio.create_task(self._close(code, reason))  # noqa: RUF006 (ends by itself)

    async def stop(self) -> None:
        self.closed.set()
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer

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
