"""An SSE reader that stops reading, on a real socket: it sends the request, reads the response
headers, then reads nothing, so that its small receive buffer fills and the gateway's writes
block, as with a client whose network or process froze. ``drain`` reads what was left once the
gateway has ended the stream, and parses the complete events of all it received."""

import asyncio
import contextlib
import json
import socket
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

__all__ = ["SseEvent", "StalledSseReader"]

RECEIVE_BUFFER_BYTES = 4096


@dataclass(frozen=True)
class SseEvent:
    event: str
    id: str | None
    data: str

    def json(self) -> dict[str, object]:
        parsed: dict[str, object] = json.loads(self.data)
        return parsed


@dataclass
class StalledSseReader:
    host: str
    port: int
    path: str
    last_event_id: int | None = None
    received: bytearray = field(default_factory=bytearray)
    ended: bool = False
    """The gateway closed the connection (end of stream or reset), seen by ``drain``."""
    _sock: socket.socket | None = None

    async def __aenter__(self) -> Self:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
        sock.setblocking(False)
        self._sock = sock
        await loop.sock_connect(sock, (self.host, self.port))
        lines = [
            f"GET {self.path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            "Accept: text/event-stream",
        ]
        if self.last_event_id is not None:
            lines.append(f"Last-Event-ID: {self.last_event_id}")
        await loop.sock_sendall(sock, ("\r\n".join(lines) + "\r\n\r\n").encode())
        async with asyncio.timeout(10):
            while b"\r\n\r\n" not in self.received:
                chunk = await loop.sock_recv(sock, 1024)
                if not chunk:
                    raise ConnectionError("the gateway closed before answering")
                self.received += chunk
        head = bytes(self.received).split(b"\r\n", 1)[0]
        if b" 200 " not in head:
            raise ConnectionError(f"the stream answered {head!r}")
        return self  # and from here on, nothing is read until ``drain``

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._sock is not None:
            self._sock.close()

    async def drain(self, timeout: float) -> None:
        """Read until the gateway closes the connection; ``ended`` says whether it did."""
        assert self._sock is not None
        loop = asyncio.get_running_loop()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while True:
                    try:
                        chunk = await loop.sock_recv(self._sock, 65536)
                    except ConnectionResetError:
                        self.ended = True
                        return
                    if not chunk:
                        self.ended = True
                        return
                    self.received += chunk

    def events(self) -> list[SseEvent]:
        """The complete events received (chunked transfer coding removed)."""
        _, _, body = bytes(self.received).partition(b"\r\n\r\n")
        text = _dechunk(body).decode(errors="replace")
        found: list[SseEvent] = []
        blocks = text.split("\n\n")
        for block in blocks[:-1]:  # the last one is incomplete (or empty)
            event, event_id, data = "message", None, []
            for line in block.split("\n"):
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "event":
                    event = value
                elif name == "id":
                    event_id = value
                elif name == "data":
                    data.append(value)
            if data:
                found.append(SseEvent(event, event_id, "\n".join(data)))
        return found


def _dechunk(body: bytes) -> bytes:
    """Chunked transfer coding off; a trailing incomplete chunk gives what arrived of it."""
    out = bytearray()
    rest = body
    while rest:
        size_line, sep, rest = rest.partition(b"\r\n")
        if not sep:
            break
        try:
            size = int(size_line.split(b";", 1)[0], 16)
        except ValueError:
            break
        if size == 0:
            break
        out += rest[:size]
        rest = rest[size + 2 :]
    return bytes(out)
