"""Under uvicorn (httptools), an SSE stream's chunks go straight to the transport, past the ASGI
layers: a real client reads every event, in order; a client that stops reading still blocks the
stream (flow control), which is cut off after the write timeout."""

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import uvicorn
from prometheus_client import CollectorRegistry, Counter
from starlette.types import Message, Receive, Scope, Send
from switchboard_gateway.metrics import FRAMES_SENT, SLOW_CLIENT_DISCONNECTS, TurnCounter
from switchboard_gateway.transport.event_stream import EventStreamResponse, Write
from switchboard_runtime.patches.uvicorn_connection_abort import ConnectionAbort

EVENTS = 2000


class StreamApp:
    """One SSE endpoint writing ``count`` events of ``size`` bytes; records the body chunks that
    passed through ASGI (a direct write passes none)."""

    def __init__(
        self,
        count: int,
        size: int,
        write_timeout: float,
        direct: bool = True,
        *,
        then_end: bool = False,
        counted: dict[str, TurnCounter] | None = None,
    ) -> None:
        self.count, self.size, self.write_timeout = count, size, write_timeout
        self.direct = direct
        self.then_end = then_end
        """The producer returns after its events (the response ends) rather than waiting."""
        self.counted = counted
        self.asgi_chunks = 0
        self.closed = asyncio.Event()
        self.produced = 0
        self.write: Write | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.body" and message.get("body"):
                self.asgi_chunks += 1
            await send(message)

        async def produce(write: Write) -> None:
            self.write = write
            pad = "x" * self.size
            for n in range(self.count):
                await write(
                    f"id: {n}\nevent: notification\ndata: {pad}\n\n".encode(), "notification"
                )
                self.produced += 1
            if not self.then_end:
                await asyncio.Event().wait()  # the stream stays open, as a real one does

        async def on_close() -> None:
            self.closed.set()

        response = EventStreamResponse(
            produce, on_close, self.write_timeout, direct=self.direct, counted=self.counted
        )
        await response(scope, receive, watch)


@contextlib.asynccontextmanager
async def serving(app: StreamApp) -> AsyncIterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)  # a client may connect at once: uvicorn accepts it when it starts
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(
        ConnectionAbort(app), http="httptools", loop="asyncio", log_config=None, lifespan="off"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield port
    finally:
        server.should_exit = True
        server.force_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()


async def read_events(reader: asyncio.StreamReader, count: int) -> list[int]:
    """Parse the chunked SSE body; the ``id`` of each event, in order."""
    ids: list[int] = []
    buffer = b""
    while len(ids) < count:
        size_line = await reader.readline()
        size = int(size_line.strip(), 16)
        chunk = await reader.readexactly(size + 2)
        buffer += chunk[:-2]
        while b"\n\n" in buffer:
            block, buffer = buffer.split(b"\n\n", 1)
            for line in block.split(b"\n"):
                if line.startswith(b"id: "):
                    ids.append(int(line[4:]))
    return ids


async def read_all(app: StreamApp) -> None:
    async with serving(app) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /stream HTTP/1.1\r\nHost: test\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert b"transfer-encoding: chunked" in head.lower()
        ids = await asyncio.wait_for(read_events(reader, EVENTS), 20)
        assert ids == list(range(EVENTS))
        writer.close()
        await asyncio.wait_for(app.closed.wait(), 5)


async def test_a_real_client_reads_every_event_in_order_written_directly() -> None:
    app = StreamApp(EVENTS, 200, write_timeout=5.0)
    sent = FRAMES_SENT.labels("sse", "notification")
    before = sent._value.get()
    await read_all(app)
    assert app.asgi_chunks == 0, "every event was written straight to the transport"
    assert sent._value.get() == before + EVENTS, "direct writes are counted"


async def test_with_direct_writes_off_every_event_goes_through_asgi() -> None:
    app = StreamApp(EVENTS, 200, write_timeout=5.0, direct=False)
    await read_all(app)
    assert app.asgi_chunks == EVENTS


async def test_a_client_that_stops_reading_is_still_cut_off() -> None:
    app = StreamApp(100_000, 4000, write_timeout=0.5)
    slow = SLOW_CLIENT_DISCONNECTS.labels("sse")
    before = slow._value.get()
    async with serving(app) as port:
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET /stream HTTP/1.1\r\nHost: test\r\n\r\n")
        try:  # the client reads nothing: the server's buffers fill, writes block
            await asyncio.wait_for(app.closed.wait(), 10)
        finally:
            sock.close()
    assert slow._value.get() == before + 1
    assert app.produced < app.count, "the producer stopped at the blocked write"
    assert app.asgi_chunks >= 1, "a paused transport sends through ASGI, which waits"


async def test_once_the_response_ended_nothing_more_is_written_directly() -> None:
    app = StreamApp(3, 10, write_timeout=5.0, then_end=True)
    async with serving(app) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /stream HTTP/1.1\r\nHost: test\r\n\r\n")
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert await asyncio.wait_for(read_events(reader, 3), 5) == [0, 1, 2]
        assert await asyncio.wait_for(reader.readexactly(5), 5) == b"0\r\n\r\n"  # the end
        await asyncio.wait_for(app.closed.wait(), 5)
        assert app.write is not None
        assert not app.write.now(b"id: 3\nevent: notification\ndata: late\n\n", "notification")
        writer.write_eof()
        with contextlib.suppress(ConnectionError):
            assert await asyncio.wait_for(reader.read(), 5) == b"", "nothing after the end"
        writer.close()


async def test_the_kinds_a_caller_names_are_counted_as_written_directly_or_through_asgi() -> None:
    for direct in (True, False):
        written = Counter("written", "events written", registry=CollectorRegistry())
        app = StreamApp(EVENTS, 50, 5.0, direct, counted={"notification": TurnCounter(written)})
        await read_all(app)
        await asyncio.sleep(0)  # counted once per loop turn
        assert written._value.get() == EVENTS
