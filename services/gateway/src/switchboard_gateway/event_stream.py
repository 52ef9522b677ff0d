"""An SSE response: headers at once, then whatever ``produce`` writes, until the client goes.

The client going away is noticed from the ASGI disconnect message, not only when a write
fails, so an idle stream is released at once rather than at its next keepalive.

A client that stops reading fills its socket's buffers, and then a write blocks (uvicorn's flow
control). Nothing else waits on it: the stream's own producer is the only writer, and what feeds
it (``InboxFollower``) is bounded. A write blocked for ``write_timeout`` seconds ends the stream:
it is counted as a slow client, its connection is dropped at once (``abort_connection``: nothing
more is written, buffered bytes are discarded) and the client resumes with Last-Event-ID.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from switchboard_runtime.connection_abort import abort_connection

from switchboard_gateway.metrics import SLOW_CLIENT_DISCONNECTS

__all__ = ["SSE_HEADERS", "EventStreamResponse", "StalledStreamError", "Write"]

log = logging.getLogger(__name__)

SSE_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "Connection": "keep-alive",
    "X-Accel-Buffering": "no",
}

Write = Callable[[str], Awaitable[None]]


class StalledStreamError(Exception):
    """A write waited ``write_timeout`` for the client to read."""


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
        stalled = False

        async def write(text: str) -> None:
            nonlocal stalled
            body = {"type": "http.response.body", "body": text.encode(), "more_body": True}
            try:
                await asyncio.wait_for(send(body), self._write_timeout)
            except TimeoutError:
                stalled = True
                raise StalledStreamError from None

        tasks: list[asyncio.Task[None]] = []
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            tasks = [
                asyncio.create_task(self._produce(write)),
                asyncio.create_task(_disconnected(receive)),
            ]
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if stalled:
                SLOW_CLIENT_DISCONNECTS.labels("sse").inc()
                log.info("ending an event stream whose client stopped reading")
                if not abort_connection(scope):
                    return  # the server closes a response left incomplete
                # The abort is seen as the client going; nothing is left to wait for after it.
                await asyncio.wait(tasks[1:], timeout=self._write_timeout)
            else:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(
                        send({"type": "http.response.body", "body": b"", "more_body": False}),
                        self._write_timeout,
                    )
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                try:
                    await task
                except (asyncio.CancelledError, StalledStreamError):
                    pass
                except Exception as err:  # the client went away mid-write, or a bus failure
                    log.info("an event stream ended: %r", err)
            await self._on_close()


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
