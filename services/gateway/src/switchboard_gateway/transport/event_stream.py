"""An SSE response: headers at once, then whatever ``produce`` writes, until the client goes.

The client going away is noticed from the ASGI disconnect message, not only when a write
fails, so an idle stream is released at once rather than at its next keepalive.

A client that stops reading fills its socket's buffers, and then a write blocks (uvicorn's flow
control). Nothing else waits on it: the stream's own producer is the only writer, and what feeds
it (``InboxFollower``) is bounded. A write blocked for ``write_timeout`` seconds ends the stream:
it is counted as a slow client, its connection is dropped at once (``abort_connection``: nothing
more is written, buffered bytes are discarded) and the client resumes with Last-Event-ID.

Under uvicorn (``httptools``) a chunk is written straight to the connection's transport
(``switchboard_runtime.patches.uvicorn_http_direct``), past the ASGI middleware, while
uvicorn's flow control says the socket is writable; otherwise (paused, or another server) it is
sent through ASGI as before, so a stalled reader still blocks a write and is cut off after
``write_timeout``. A direct chunk is not seen by ``connection_metrics.ConnectionMetrics``, so it
is counted here (``FRAMES_SENT``, once per loop turn per event type, with the number of chunks
written). ``direct=False``
(``SSE_DIRECT_WRITES=false``) sends every chunk through ASGI.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, Protocol

from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from switchboard_runtime.patches.uvicorn_connection_abort import abort_connection
from switchboard_runtime.patches.uvicorn_http_direct import DirectBody, direct_body

from switchboard_gateway.metrics import FRAMES_SENT, SLOW_CLIENT_DISCONNECTS, TurnCounter
from switchboard_gateway.transport.connection_metrics import event_type_of

__all__ = ["SSE_HEADERS", "EventStreamResponse", "StalledStreamError", "Write"]

log = logging.getLogger(__name__)

SSE_HEADERS = {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-cache",
    "Connection": "keep-alive",
    "X-Accel-Buffering": "no",
}


class Write(Protocol):
    def __call__(self, chunk: str | bytes, kind: str | None = None) -> Awaitable[None]:
        """Write one chunk (whole events); ``kind``: its event type for ``FRAMES_SENT``, when
        the caller knows it (else it is read from the chunk)."""
        ...

    def now(self, chunk: bytes, kind: str) -> bool:
        """Write one chunk at once, without waiting, when the socket takes it directly (see
        the module's docstring); False: nothing was written, use the awaited call."""
        ...


class _StreamWrite:
    """The ``Write`` an ``EventStreamResponse`` gives its producer."""

    __slots__ = ("counted", "direct", "send", "stalled", "timeout")

    def __init__(
        self, send: Send, timeout: float, counted: Mapping[str, TurnCounter] | None = None
    ) -> None:
        self.send = send
        self.timeout = timeout
        self.counted = counted or {}
        self.direct: DirectBody | None = None
        self.stalled = False

    def now(self, chunk: bytes, kind: str) -> bool:
        direct = self.direct
        if direct is not None and direct.try_write(chunk):
            _SENT.add(kind)
            if self.counted:
                self._count(kind)
            return True
        return False

    def _count(self, kind: str) -> None:
        counter = self.counted.get(kind)
        if counter is not None:
            counter.add()

    def end_direct(self) -> None:
        if self.direct is not None:
            self.direct.close()
            self.direct = None

    async def __call__(self, chunk: str | bytes, kind: str | None = None) -> None:
        data = chunk.encode() if isinstance(chunk, str) else chunk
        if self.now(data, kind or event_type_of(data)):
            return
        body = {"type": "http.response.body", "body": data, "more_body": True}
        try:
            await asyncio.wait_for(self.send(body), self.timeout)
        except TimeoutError:
            self.stalled = True
            raise StalledStreamError from None
        if self.counted:
            self._count(kind or event_type_of(data))


class _SentCounts:
    """SSE chunks written directly, counted into ``FRAMES_SENT`` once per loop turn."""

    def __init__(self) -> None:
        self._by_kind: dict[str, TurnCounter] = {}

    def add(self, kind: str) -> None:
        counter = self._by_kind.get(kind)
        if counter is None:
            counter = self._by_kind[kind] = TurnCounter(FRAMES_SENT.labels("sse", kind))
        counter.add()


_SENT = _SentCounts()


class StalledStreamError(Exception):
    """A write waited ``write_timeout`` for the client to read."""


class EventStreamResponse(Response):
    def __init__(
        self,
        produce: Callable[[Write], Coroutine[Any, Any, None]],
        on_close: Callable[[], Awaitable[None]],
        write_timeout: float,
        *,
        direct: bool = True,
        counted: Mapping[str, TurnCounter] | None = None,
    ) -> None:
        """``counted``: a counter per event kind, added to for each chunk of that kind written
        (directly or through ASGI), besides ``FRAMES_SENT``."""
        # Not Response.__init__: it would announce a Content-Length for an empty body.
        self.status_code = 200
        self.background = None
        self.init_headers(SSE_HEADERS)
        self._produce = produce
        self._on_close = on_close
        self._write_timeout = write_timeout
        self._direct = direct
        self._counted = counted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        write = _StreamWrite(send, self._write_timeout, self._counted)
        tasks: list[asyncio.Task[None]] = []
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            write.direct = direct_body(scope) if self._direct else None
            tasks = [
                asyncio.create_task(self._produce(write)),
                asyncio.create_task(_disconnected(receive)),
            ]
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            write.end_direct()  # nothing written past the response's end, or after an abort
            if write.stalled:
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
