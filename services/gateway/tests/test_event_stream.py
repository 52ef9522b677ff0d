"""An SSE response whose client stops reading is ended after the write timeout: counted as a
slow client, its connection aborted, its producer and resources released."""

import asyncio
from typing import Any

from starlette.types import Message
from switchboard_gateway.metrics import SLOW_CLIENT_DISCONNECTS
from switchboard_gateway.transport.event_stream import EventStreamResponse, Write


class StoppedReader:
    """A server connection whose client reads the headers and then nothing more."""

    def __init__(self) -> None:
        self.sent: list[Message] = []
        self.aborted = asyncio.Event()

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.body" and len(self.sent) >= 2:
            await asyncio.Event().wait()  # flow control: never writable again
        self.sent.append(message)

    async def receive(self) -> Message:
        await self.aborted.wait()
        return {"type": "http.disconnect"}

    def scope(self) -> dict[str, Any]:
        return {"type": "http", "switchboard.abort": self.aborted.set}


async def test_a_write_blocked_past_the_timeout_ends_the_stream_and_aborts_it() -> None:
    client = StoppedReader()
    closed = asyncio.Event()
    written: list[str] = []

    async def produce(write: Write) -> None:
        for n in range(1000):
            await write(f"data: {n}\n\n")
            written.append(str(n))

    async def on_close() -> None:
        closed.set()

    before = SLOW_CLIENT_DISCONNECTS.labels("sse")._value.get()
    response = EventStreamResponse(produce, on_close, write_timeout=0.2)
    await asyncio.wait_for(response(client.scope(), client.receive, client.send), timeout=5)
    assert client.aborted.is_set(), "the connection was dropped, not left to flush"
    assert closed.is_set()
    assert written == ["0"], "nothing was produced past the blocked write"
    assert not any(m.get("more_body") is False for m in client.sent), "no polite end"
    assert SLOW_CLIENT_DISCONNECTS.labels("sse")._value.get() == before + 1


async def test_a_stream_the_client_leaves_is_not_a_slow_client() -> None:
    left = asyncio.Event()
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        await left.wait()
        return {"type": "http.disconnect"}

    async def produce(write: Write) -> None:
        await write("data: hello\n\n")
        left.set()
        await asyncio.Event().wait()

    async def on_close() -> None:
        pass

    before = SLOW_CLIENT_DISCONNECTS.labels("sse")._value.get()
    response = EventStreamResponse(produce, on_close, write_timeout=0.2)
    await asyncio.wait_for(response({"type": "http"}, receive, send), timeout=5)
    assert SLOW_CLIENT_DISCONNECTS.labels("sse")._value.get() == before
    assert sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
