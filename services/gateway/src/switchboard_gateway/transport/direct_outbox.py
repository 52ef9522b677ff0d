"""One connection's outgoing frames written straight to its socket, past the ASGI layer.

Used when uvicorn's ``websockets-sansio`` protocol serves the socket (``switchboard_runtime.
patches.uvicorn_ws_protocol`` records it in the scope); under any other server ``outbox.Outbox`` is
used.

Fan-out calls ``offer``, which appends the frame's wire bytes (``wire``: built once per message
for a whole room) to the connection's pending list and never waits. Once per loop turn the
``FrameWriter`` flushes every connection that got frames with one ``transport.write`` each, so a
burst of messages costs one write per connection, and counts ``FRAMES_SENT`` per message
(``inc(n)``) and ``DELIVERY_LATENCY`` once per message (``observe_many``: n observations of
the latency at the flush) rather than once per frame. There is no
queue and no writer task: the transport's own buffer is the queue. A connection whose buffer
passes its high-water mark by ``OUTBOX_BYTES`` is closed with 1013 like ``Outbox``'s slow
path; it resumes with ``since``. ``send`` (a replay, a history page) waits until uvicorn says the
socket is writable again and closes with 1013 only when the client stops reading.

Control frames (ping, pong, close) stay uvicorn's: both sides write whole frames, so they
interleave safely; nothing is written once a close was sent or the transport is closing. A close
of ours goes through ASGI ``websocket.close``, after the frames offered before it.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable

from prometheus_client import Counter
from starlette.websockets import WebSocket
from switchboard_protocol import CloseCode
from switchboard_runtime.patches.light_event import LightEvent
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from switchboard_gateway.metrics import (
    DELIVERY_LATENCY,
    FRAMES_SENT,
    SLOW_CLIENT_DISCONNECTS,
    observe_many,
)
from switchboard_gateway.transport.connection_metrics import frame_type_of
from switchboard_gateway.transport.wire import SharedFrame, TimedFrame, wire_of

__all__ = ["DirectOutbox", "FrameWriter"]

log = logging.getLogger(__name__)

_TRANSPORT = "websocket"
_ESTIMATED_FRAME_BYTES = 512
"""For ``pending`` (a backlog in frames): what one buffered frame is taken to weigh."""


class FrameWriter:
    """Flushes, once per loop turn, every direct outbox that got frames; one per gateway."""

    __slots__ = ("_counted", "_latency", "_scheduled", "_sent", "dirty", "last", "last_count")

    def __init__(self) -> None:
        self.dirty: list[DirectOutbox] = []
        """Outboxes with frames to write this loop turn (``DirectOutbox.offer`` appends)."""
        self.last: str | None = None
        """The frame counted last, and how many times in a row (``DirectOutbox.offer`` adds
        to ``last_count`` itself when it is offered again: a room's fan-out offers the same
        object to each member in turn)."""
        self.last_count = 0
        self._scheduled = False
        self._counted: list[tuple[str, int]] = []
        self._sent: dict[str, Counter] = {}
        self._latency = DELIVERY_LATENCY.labels(_TRANSPORT)

    def count(self, text: str) -> None:
        """A frame offered that is not ``last``; schedules the flush of this loop turn (the
        first frame of a turn is always such a one)."""
        if self.last is not None:
            self._counted.append((self.last, self.last_count))
        self.last, self.last_count = text, 1
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self._scheduled = False
        dirty, self.dirty = self.dirty, []
        for outbox in dirty:
            try:
                outbox.flush()
            except Exception:  # one broken socket must not cost the others their frames
                log.exception("writing to a WebSocket failed; closing it")
                outbox.close(CloseCode.INTERNAL_ERROR, "internal error; reconnect", flush=False)
        if self.last is not None:
            self._counted.append((self.last, self.last_count))
            self.last, self.last_count = None, 0
        counted, self._counted = self._counted, []
        for text, count in counted:
            self._frames_sent(frame_type_of(text)).inc(count)
            if isinstance(text, TimedFrame):
                observe_many(self._latency, text.latency(), count)

    def _frames_sent(self, kind: str) -> Counter:
        counter = self._sent.get(kind)
        if counter is None:
            counter = self._sent[kind] = FRAMES_SENT.labels(_TRANSPORT, kind)
        return counter


class DirectOutbox:
    __slots__ = (
        "_chunks",
        "_closing",
        "_max_bytes",
        "_open",
        "_protocol",
        "_send_timeout",
        "_transport",
        "_websocket",
        "_writer",
        "close_code",
        "closed",
        "max_frames",
        "on_close",
    )

    def __init__(
        self,
        websocket: WebSocket,
        protocol: WebSocketsSansIOProtocol,
        writer: FrameWriter,
        *,
        max_frames: int,
        max_bytes: int,
        send_timeout: float = 10.0,
    ) -> None:
        self._websocket = websocket
        self._protocol = protocol
        self._transport = protocol.transport
        self._writer = writer
        self._chunks: list[bytes] = []
        # Like ``Outbox``: the transport's own buffer fills to its high-water mark (when
        # uvicorn's ``send`` would wait), then ``max_bytes`` more; ``send`` never passes it.
        self._max_bytes = self._transport.get_write_buffer_limits()[1] + max_bytes
        self._send_timeout = send_timeout
        self._closing: asyncio.Task[None] | None = None
        self.max_frames = max_frames
        """How many live frames a resuming member may have held back (``chat.room_hub``)."""
        self.closed = LightEvent()
        self._open = True
        """``closed`` not set: read on every frame, where a plain attribute is cheaper."""
        self.close_code: int | None = None
        self.on_close: Callable[[], None] | None = None

    @property
    def pending(self) -> int:
        """Frames not yet read by the client, estimated from the bytes buffered."""
        buffered = self._transport.get_write_buffer_size()
        return len(self._chunks) + buffered // _ESTIMATED_FRAME_BYTES

    def start(self) -> None:
        """Nothing to start: frames are written by the ``FrameWriter``."""

    def offer(self, text: str) -> None:
        """Runs once per member of a room per message: the ``FrameWriter``'s work is written
        out here rather than called, and a shared frame's bytes are taken as they are."""
        if not self._open:
            return
        chunks = self._chunks
        writer = self._writer
        if not chunks:
            writer.dirty.append(self)
        chunks.append(text.wire() if isinstance(text, SharedFrame) else wire_of(text))
        if text is writer.last:
            writer.last_count += 1
        else:
            writer.count(text)

    async def send(self, text: str) -> None:
        if not self._open:
            return
        writable = self._protocol.writable
        if not writable.is_set():
            try:
                await asyncio.wait_for(writable.wait(), self._send_timeout)
            except TimeoutError:
                log.info("closing a connection that stopped reading its replay")
                self.close(CloseCode.TRY_AGAIN_LATER, "too slow: resume with since")
                return
            if self.closed.is_set():  # closed while it waited
                return
        self.offer(text)
        self.flush(limit=False)  # the wait above bounds the buffer, not OUTBOX_BYTES

    def flush(self, *, limit: bool = True) -> None:
        """Write what was offered since the last flush, in one write."""
        chunks = self._chunks
        if not chunks or not self._open:
            return
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()  # the list is kept: no allocation (and no collector work) per frame
        transport = self._transport
        if self._protocol.close_sent or transport.is_closing():
            self._shut()
            return
        transport.write(data)
        if limit and transport.get_write_buffer_size() > self._max_bytes:
            SLOW_CLIENT_DISCONNECTS.labels(_TRANSPORT).inc()
            log.info("closing a connection that is too slow to read its frames")
            self.close(CloseCode.TRY_AGAIN_LATER, "too slow: resume with since", flush=False)

    def close(self, code: int, reason: str = "", *, flush: bool = True) -> None:
        if not self._open:
            return
        if flush:
            self.flush(limit=False)
        self._chunks.clear()
        self._shut()
        self.close_code = code
        self._closing = asyncio.create_task(self._close(code, reason))
        if self.on_close is not None:
            self.on_close()

    async def stop(self) -> None:
        """Stop writing; a close begun by ``close`` is finished first."""
        self._shut()
        self._chunks.clear()
        if self._closing is not None:
            await self._closing

    def _shut(self) -> None:
        self._open = False
        self.closed.set()

    async def _close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await self._websocket.close(code, reason)
