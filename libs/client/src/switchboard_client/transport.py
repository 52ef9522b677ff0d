"""The wire, behind two small interfaces so that the connection logic is tested with fakes:
a WebSocket (``Connector``) and an SSE stream (``SseOpener``). The real ones use ``websockets``
and ``httpx`` + ``httpx-sse``."""

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Protocol

import httpx
from httpx_sse import EventSource
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from switchboard_client.errors import ConnectFailedError, TransportClosedError

__all__ = [
    "Connector",
    "RawEvent",
    "SseOpener",
    "WireConnection",
    "open_sse",
    "websocket_connector",
]


class WireConnection(Protocol):
    async def send(self, text: str) -> None: ...
    async def recv(self) -> str: ...
    async def close(self) -> None: ...


class Connector(Protocol):
    async def __call__(self, url: str) -> WireConnection: ...


@dataclass(frozen=True)
class RawEvent:
    event: str
    data: str
    id: str | None


class SseOpener(Protocol):
    def __call__(self, url: str, headers: Mapping[str, str]) -> AsyncIterator[RawEvent]: ...


def _closed(closed: ConnectionClosed) -> TransportClosedError:
    if closed.rcvd is None:
        return TransportClosedError(None)
    return TransportClosedError(closed.rcvd.code, closed.rcvd.reason)


class _WebSocket:
    def __init__(self, ws: ClientConnection) -> None:
        self._ws = ws

    async def send(self, text: str) -> None:
        try:
            await self._ws.send(text)
        except ConnectionClosed as closed:
            raise _closed(closed) from closed

    async def recv(self) -> str:
        try:
            message = await self._ws.recv()
        except ConnectionClosed as closed:
            raise _closed(closed) from closed
        return message if isinstance(message, str) else message.decode()

    async def close(self) -> None:
        await self._ws.close()


async def websocket_connector(url: str) -> WireConnection:
    try:
        return _WebSocket(await connect(url, open_timeout=10, max_size=2**20))
    except InvalidStatus as refused:
        raise ConnectFailedError(refused.response.status_code, str(refused)) from refused
    except (OSError, InvalidHandshake, TimeoutError) as failed:
        raise ConnectFailedError(None, str(failed)) from failed


async def open_sse(url: str, headers: Mapping[str, str]) -> AsyncIterator[RawEvent]:
    """One SSE connection's events until it ends; ``ConnectFailedError`` when it cannot start."""
    timeout = httpx.Timeout(10.0, read=60.0)  # the server sends a keepalive every 15 s
    async with httpx.AsyncClient(timeout=timeout) as http:
        try:
            async with http.stream(
                "GET", url, headers={"Accept": "text/event-stream", **headers}
            ) as response:
                if response.status_code != 200:
                    raise ConnectFailedError(response.status_code, "the stream was refused")
                async for event in EventSource(response).aiter_sse():
                    yield RawEvent(event.event, event.data, event.id or None)
        except httpx.HTTPError as failed:
            raise ConnectFailedError(None, str(failed)) from failed
