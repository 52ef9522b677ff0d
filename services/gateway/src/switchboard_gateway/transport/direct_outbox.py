"""One connection's outgoing frames written straight to its socket, past the ASGI layer.

Used when uvicorn's ``websockets-sansio`` protocol serves the socket (``switchboard_runtime.
patches.uvicorn_ws_protocol`` records it in the scope); under any other server ``outbox.Outbox`` is
used.

Fan-out calls ``offer``, which keeps the frame's wire bytes (``wire``: built once per message
for a whole room) as the connection's pending bytes and never waits. Once per loop turn the
``FrameWriter`` flushes every connection that got frames with one ``transport.write`` each, so a
burst of messages costs one write per connection, and counts ``FRAMES_SENT`` per message
(``inc(n)``) and ``DELIVERY_LATENCY`` once per message (``observe_many``: n observations of
the latency at the flush) rather than once per frame. A room's message to all its live members
is one ``FrameWriter.fan_out`` (``recipients.Recipients``): when it is all the loop turn
writes, as at any moderate rate, the flush writes it to each socket without touching anything
else of theirs; once anything else is offered in the same turn, it is first offered to each
like any frame, so that every connection's frames keep their order.

There is no queue and no writer task: the transport's own buffer is the queue. A connection
whose buffer passes its high-water mark by ``OUTBOX_BYTES`` is closed with 1013 like
``Outbox``'s slow path; it resumes with ``since``. ``send`` (a replay, a history page) waits
until uvicorn says the socket is writable again and closes with 1013 only when the client stops
reading.

Control frames (ping, pong, close) stay uvicorn's: both sides write whole frames, so they
interleave safely. Nothing is written once the transport is closing. A close of ours goes
through ASGI ``websocket.close``, after the frames offered before it, and marks the outbox shut
first; every other close uvicorn sends (the client's close answered, a ping timeout, the
server's shutdown) closes the transport with it. So a flush need not read uvicorn's
``close_sent``: a session's only other ``websocket.close``, refusing it at admission, comes
before its outbox is started.
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

    __slots__ = (
        "_counted",
        "_fan_out",
        "_latency",
        "_scheduled",
        "_sent",
        "dirty",
        "last",
        "last_count",
    )

    def __init__(self) -> None:
        self.dirty: list[DirectOutbox] = []
        """Outboxes with frames to write this loop turn (``DirectOutbox.offer`` appends)."""
        self.last: str | None = None
        """The frame counted last, and how many times in a row (``DirectOutbox.offer`` adds
        to ``last_count`` itself when it is offered again: a room's fan-out offers the same
        object to each member in turn)."""
        self.last_count = 0
        self._fan_out: tuple[SharedFrame, tuple[DirectOutbox, ...]] | None = None
        self._scheduled = False
        self._counted: list[tuple[str, int]] = []
        self._sent: dict[str, Counter] = {}
        self._latency = DELIVERY_LATENCY.labels(_TRANSPORT)

    def fan_out(self, text: SharedFrame, outboxes: tuple["DirectOutbox", ...]) -> None:
        """``text`` to each of ``outboxes``: kept whole and written to each by the flush while
        it is all this loop turn writes; else offered to each in turn (``spill``)."""
        if self._fan_out is None and not self.dirty:
            self._fan_out = (text, outboxes)
            self._schedule()
            return
        self.spill()
        for outbox in outboxes:
            outbox.offer(text)

    def spill(self) -> None:
        """Something else is written this turn: the fan-out kept whole is offered to each of
        its outboxes first, so that each connection's frames stay in the order offered."""
        fan_out, self._fan_out = self._fan_out, None
        if fan_out is not None:
            text, outboxes = fan_out
            for outbox in outboxes:
                outbox.offer(text)

    def count(self, text: str) -> None:
        """A frame offered that is not ``last``; schedules the flush of this loop turn (the
        first frame of a turn is always such a one)."""
        if self.last is not None:
            self._counted.append((self.last, self.last_count))
        self.last, self.last_count = text, 1
        self._schedule()

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self._scheduled = False
        fan_out, self._fan_out = self._fan_out, None
        if fan_out is not None:
            self._write_each(*fan_out)
        dirty, self.dirty = self.dirty, []
        for outbox in dirty:
            try:
                outbox.flush()
            except Exception:  # one broken socket must not cost the others their frames
                outbox.failed()
        if self.last is not None:
            self._counted.append((self.last, self.last_count))
            self.last, self.last_count = None, 0
        counted, self._counted = self._counted, []
        for text, count in counted:
            self._frames_sent(frame_type_of(text)).inc(count)
            if isinstance(text, TimedFrame):
                observe_many(self._latency, text.latency(), count)

    def _write_each(self, text: SharedFrame, outboxes: tuple["DirectOutbox", ...]) -> None:
        """A fan-out's one frame, one write per open outbox: ``DirectOutbox.flush`` written
        out, reading nothing of an outbox but its liveness, transport and limit."""
        data = text.wire()
        written = 0
        for outbox in outboxes:
            if not outbox._open:
                continue
            transport = outbox._transport
            try:
                if transport.is_closing():
                    outbox._shut()
                    continue
                transport.write(data)
                written += 1
                if transport.get_write_buffer_size() > outbox._max_bytes:
                    outbox.too_slow()
            except Exception:  # one broken socket must not cost the others their frames
                outbox.failed()
        self._counted.append((text, written))

    def _frames_sent(self, kind: str) -> Counter:
        counter = self._sent.get(kind)
        if counter is None:
            counter = self._sent[kind] = FRAMES_SENT.labels(_TRANSPORT, kind)
        return counter


class DirectOutbox:
    __slots__ = (
        "_closing",
        "_max_bytes",
        "_more",
        "_open",
        "_pending",
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
        self._pending: bytes | None = None
        """The bytes offered since the last flush: one frame's, the common case."""
        self._more: list[bytes] | None = None
        """All of them, in order, once a second frame was offered before the flush."""
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
    def writer(self) -> FrameWriter:
        return self._writer

    @property
    def pending(self) -> int:
        """Frames not yet read by the client, estimated from the bytes buffered."""
        buffered = self._transport.get_write_buffer_size()
        offered = 0 if self._pending is None else 1 if self._more is None else len(self._more)
        return offered + buffered // _ESTIMATED_FRAME_BYTES

    def start(self) -> None:
        """Nothing to start: frames are written by the ``FrameWriter``."""

    def offer(self, text: str) -> None:
        """The ``FrameWriter``'s work is written out here rather than called, and a shared
        frame's bytes are taken as they are."""
        if not self._open:
            return
        writer = self._writer
        if writer._fan_out is not None:
            writer.spill()
        data = text.wire() if isinstance(text, SharedFrame) else wire_of(text)
        if self._pending is None:
            self._pending = data
            writer.dirty.append(self)
        elif self._more is None:
            self._more = [self._pending, data]
        else:
            self._more.append(data)
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
        data, more = self._pending, self._more
        if data is None or not self._open:
            return
        self._pending = self._more = None
        transport = self._transport
        if transport.is_closing():
            self._shut()
            return
        transport.write(data if more is None else b"".join(more))
        if limit and transport.get_write_buffer_size() > self._max_bytes:
            self.too_slow()

    def too_slow(self) -> None:
        """Its buffer passed the limit: the client does not read its frames fast enough."""
        SLOW_CLIENT_DISCONNECTS.labels(_TRANSPORT).inc()
        log.info("closing a connection that is too slow to read its frames")
        self.close(CloseCode.TRY_AGAIN_LATER, "too slow: resume with since", flush=False)

    def failed(self) -> None:
        """Writing to it raised: it is closed, the others are written on."""
        log.exception("writing to a WebSocket failed; closing it")
        self.close(CloseCode.INTERNAL_ERROR, "internal error; reconnect", flush=False)

    def close(self, code: int, reason: str = "", *, flush: bool = True) -> None:
        if not self._open:
            return
        if flush:
            if self._writer._fan_out is not None:
                self._writer.spill()  # a fan-out kept whole was offered before this close
            self.flush(limit=False)
        self._pending = self._more = None
        self._shut()
        self.close_code = code
        self._closing = asyncio.create_task(self._close(code, reason))
        if self.on_close is not None:
            self.on_close()

    async def stop(self) -> None:
        """Stop writing; a close begun by ``close`` is finished first."""
        self._shut()
        self._pending = self._more = None
        if self._closing is not None:
            await self._closing

    def _shut(self) -> None:
        self._open = False
        self.closed.set()

    async def _close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await self._websocket.close(code, reason)
