"""An SSE response: headers at once, then whatever ``produce`` writes, until the client goes.

The client going away is noticed from the ASGI disconnect message, not only when a write
fails, so an idle stream is released at once rather than at its next keepalive.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

__all__ = ["SSE_HEADERS", "EventStreamResponse", "Write"]

log = logging.getLogger(__name__)

SSE_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "Connection": "keep-alive",
    "X-Accel-Buffering": "no",
}

Write = Callable[[str], Awaitable[None]]


class EventStreamResponse(Response):
    def __init__(
        self,
        produce: Callable[[Write], Coroutine[Any, Any, None]],
        on_close: Callable[[], Awaitable[None]],
        write_timeout: float,
    ) -> None:
        # Not Response.__init__: it would announce a Content-Length for an empty body.
        self.status_code = 200
        self.background = None
        self.init_headers(SSE_HEADERS)
        self._produce = produce
        self._on_close = on_close
        self._write_timeout = write_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def write(text: str) -> None:
            # A client that stops reading holds the write; after the timeout it is cut off and
            # resumes later with Last-Event-ID.
            body = {"type": "http.response.body", "body": text.encode(), "more_body": True}
            await asyncio.wait_for(send(body), self._write_timeout)

        tasks: list[asyncio.Task[None]] = []
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            tasks = [
                asyncio.create_task(self._produce(write)),
                asyncio.create_task(_disconnected(receive)),
            ]
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            with contextlib.suppress(Exception):
                await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                try:
                    await task
                except asyncio.CancelledError:
                    pass
                except Exception as err:  # the client went away mid-write, or a bus failure
                    log.info("an event stream ended: %r", err)
            await self._on_close()


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
