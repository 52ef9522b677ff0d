"""Connection metrics for every transport, taken from the ASGI messages in one place.

``ConnectionMetrics`` wraps the gateway's app and watches what passes: a WebSocket ``accept``
opens a connection, a ``close`` (ours) or ``disconnect`` (the client's) ends it with its code,
every ``websocket.send`` is a frame out (and, for a ``TimedFrame``, a delivery-latency sample);
an HTTP response of type ``text/event-stream`` is an SSE connection whose body chunks are events;
``GET /api/notifications/poll`` is a long-poll. Endpoints need no metrics code of their own.
"""

import re
from collections.abc import Awaitable

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from switchboard_protocol import CloseCode
from switchboard_runtime.service.socket_end import on_socket_end, on_socket_message

from switchboard_gateway.metrics import (
    CONNECTIONS,
    CONNECTS,
    DELIVERY_LATENCY,
    DISCONNECTS,
    FRAME_TYPES,
    FRAMES_SENT,
    HANDSHAKE_REFUSALS,
    bounded,
    close_code_label,
)
from switchboard_gateway.transport.sse import KEEPALIVE_KIND
from switchboard_gateway.transport.wire import TimedFrame

__all__ = ["ConnectionMetrics", "event_type_of", "frame_type_of"]

LONG_POLL_PATH = "/api/notifications/poll"
SOCKET_IO_PREFIX = "/socket.io"
_TYPE_PREFIX = '{"type":"'
_EVENT_LINE = re.compile(rb"^event: ?([\w-]{1,40})", re.MULTILINE)


def frame_type_of(text: str | bytes | None) -> str:
    """The type of a frame we encoded (``frames`` writes ``type`` first), bounded."""
    if not isinstance(text, str) or not text.startswith(_TYPE_PREFIX):
        return "other"
    end = text.find('"', len(_TYPE_PREFIX), len(_TYPE_PREFIX) + 40)
    return bounded(text[len(_TYPE_PREFIX) : end], FRAME_TYPES) if end > 0 else "other"


def event_type_of(chunk: bytes) -> str:
    """The event of an SSE chunk: its ``event:`` field, ``keepalive`` for a comment."""
    if chunk.startswith(b":"):
        return KEEPALIVE_KIND
    found = _EVENT_LINE.search(chunk)
    return bounded(found.group(1).decode(), FRAME_TYPES) if found else "other"


def _header(message: Message, name: bytes) -> bytes:
    for key, value in message.get("headers", []):
        if key.lower() == name:
            return bytes(value)
    return b""


class ConnectionMetrics:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        """A plain function: a WebSocket whose end is run by the outermost layer
        (``switchboard_runtime.service.socket_end``) is handed on with no frame of this layer
        on its stack."""
        if scope["type"] == "websocket":
            path: str = scope.get("path", "")
            transport = "socketio" if path.startswith(SOCKET_IO_PREFIX) else "websocket"
            watch = _SocketWatch(transport, receive, send)
            if on_socket_end(scope, watch.ended):
                if on_socket_message(scope, watch.observe):
                    return self.app(scope, receive, watch.send)
                return self.app(scope, watch.receive, watch.send)
            return self._websocket(scope, watch)
        if scope["type"] == "http":
            return self._http(scope, receive, send)
        return self.app(scope, receive, send)

    async def _websocket(self, scope: Scope, watch: "_SocketWatch") -> None:
        failed = False
        try:
            await self.app(scope, watch.receive, watch.send)
        except BaseException:
            failed = True
            raise
        finally:
            watch.ended(failed)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        long_poll = path == LONG_POLL_PATH
        transport: str | None = "longpoll" if long_poll else None
        status = 0
        if long_poll:
            CONNECTS.labels("longpoll").inc()
            CONNECTIONS.labels("longpoll").inc()

        async def watch_send(message: Message) -> None:
            nonlocal transport, status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                content_type = _header(message, b"content-type")
                if transport is None and content_type.startswith(b"text/event-stream"):
                    transport = "sse"
                    CONNECTS.labels("sse").inc()
                    CONNECTIONS.labels("sse").inc()
            elif message["type"] == "http.response.body" and transport == "sse":
                body = message.get("body", b"")
                await send(message)
                if body:
                    FRAMES_SENT.labels("sse", event_type_of(body)).inc()
                return
            await send(message)

        try:
            await self.app(scope, receive, watch_send)
        finally:
            if transport is not None:
                CONNECTIONS.labels(transport).dec()
                DISCONNECTS.labels(transport, str(status or 500)).inc()


class _SocketWatch:
    """One WebSocket's metrics, watched from its ASGI messages: a slotted object and two bound
    methods rather than closures over cells, as it lives as long as the connection."""

    __slots__ = ("accepted", "code", "inner_receive", "inner_send", "transport")

    def __init__(self, transport: str, receive: Receive, send: Send) -> None:
        self.transport = transport
        self.inner_receive = receive
        self.inner_send = send
        self.accepted = False
        self.code: int | None = None

    async def receive(self) -> Message:
        message = await self.inner_receive()
        self.observe(message)
        return message

    def observe(self, message: Message) -> None:
        if message["type"] == "websocket.disconnect" and self.code is None:
            self.code = int(message.get("code", 1005))

    async def send(self, message: Message) -> None:
        transport = self.transport
        kind = message["type"]
        if kind == "websocket.send":
            text = message.get("text")
            await self.inner_send(message)
            FRAMES_SENT.labels(transport, frame_type_of(text)).inc()
            if isinstance(text, TimedFrame):
                DELIVERY_LATENCY.labels(transport).observe(text.latency())
            return
        if kind == "websocket.accept":
            self.accepted = True
            CONNECTS.labels(transport).inc()
            CONNECTIONS.labels(transport).inc()
        elif kind == "websocket.close":
            if self.accepted:
                if self.code is None:
                    self.code = int(message.get("code", CloseCode.NORMAL))
            else:
                HANDSHAKE_REFUSALS.labels(transport, "403").inc()
        elif kind == "websocket.http.response.start":
            HANDSHAKE_REFUSALS.labels(transport, str(message["status"])).inc()
        await self.inner_send(message)

    def ended(self, failed: bool) -> None:
        if not self.accepted:
            return
        CONNECTIONS.labels(self.transport).dec()
        code = self.code
        if code is None:
            code = CloseCode.INTERNAL_ERROR if failed else CloseCode.NORMAL
        DISCONNECTS.labels(self.transport, close_code_label(code)).inc()
