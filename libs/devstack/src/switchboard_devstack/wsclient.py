"""A WebSocket client for tests: it keeps every frame; tests wait for the one they need."""

import asyncio
import json
import socket
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

__all__ = [
    "UPGRADE_HEADERS",
    "FrameClient",
    "SlowReader",
    "handshake_status",
    "read_until_closed",
    "upgrade_over_http",
]

Frame = dict[str, Any]


class FrameClient:
    def __init__(self, url: str) -> None:
        self.url = url
        self.frames: list[Frame] = []
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._arrived = asyncio.Condition()
        self.closed = asyncio.Event()

    @property
    def ws(self) -> ClientConnection:
        if self._ws is None:
            raise RuntimeError("not connected")
        return self._ws

    async def __aenter__(self) -> Self:
        self._ws = await connect(self.url, open_timeout=10)
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.ws.close()
        if self._reader is not None:
            await self._reader

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                frame = json.loads(raw)
                async with self._arrived:
                    self.frames.append(frame)
                    self._arrived.notify_all()
        except Exception:  # noqa: S110 (the close is what tests observe)
            pass
        finally:
            self.closed.set()
            async with self._arrived:
                self._arrived.notify_all()

    async def send(self, frame: Frame | str) -> None:
        await self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))

    async def wait_for(
        self, kind: str, where: Callable[[Frame], bool] = lambda _: True, timeout: float = 10.0
    ) -> Frame:
        """The first frame of ``kind`` matching ``where``, received before or within ``timeout``."""

        def found() -> Frame | None:
            return next((f for f in self.frames if f.get("type") == kind and where(f)), None)

        async with asyncio.timeout(timeout), self._arrived:
            while (frame := found()) is None:
                if self.closed.is_set():
                    raise ConnectionError(
                        f"closed before a {kind!r} frame arrived; got {self.frames}"
                    )
                await self._arrived.wait()
            return frame

    def of_type(self, kind: str) -> list[Frame]:
        return [f for f in self.frames if f.get("type") == kind]


class SlowReader(FrameClient):
    """A client with a tiny receive buffer, so that not reading shows at the gateway quickly:
    ``ws.transport.pause_reading()`` stops it, ``resume_reading()`` lets it see its close."""

    async def __aenter__(self) -> Self:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        host, port = self.url.split("//", 1)[1].split("/", 1)[0].split(":")
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
        self._ws = await connect(self.url, sock=sock, open_timeout=10, max_queue=4)
        self._reader = asyncio.create_task(self._read())
        return self


UPGRADE_HEADERS = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version": "13",
}
"""A valid WebSocket upgrade request's headers (the key is RFC 6455's example)."""


async def handshake_status(url: str, **kwargs: Any) -> int:
    """The HTTP status of a WebSocket handshake the server must refuse (``kwargs`` go to
    ``connect``: ``additional_headers``, ``origin``, ...); an accepted handshake fails the test."""
    try:
        async with connect(url, open_timeout=10, **kwargs):
            pass
    except InvalidStatus as refused:
        return refused.response.status_code
    raise AssertionError(f"the handshake to {url} was accepted")


async def upgrade_over_http(url: str) -> httpx.Response:
    """The answer to a WebSocket upgrade sent as a plain GET: a refused handshake's status and
    JSON body, which a WebSocket client does not show."""
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.get(url, headers=UPGRADE_HEADERS)


async def read_until_closed(ws: ClientConnection, timeout: float = 10.0) -> None:
    """Read and drop frames until the server closes: ``ConnectionClosed`` says how."""
    async with asyncio.timeout(timeout):
        while True:
            await ws.recv()
