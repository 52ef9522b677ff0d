"""What a process serves, counted at its edge: requests and open long-lived connections.

``ActivityMiddleware`` wraps a service's ASGI app (``run_service`` does it) and counts from the
ASGI messages alone, so endpoints need no code of their own: an HTTP request is a request
(probes and scrapes excepted), so is every frame a WebSocket client sends; an accepted
WebSocket and an HTTP response of type ``text/event-stream`` are connections while they last.
Bus requests a service answers are counted by ``Bus.serve``. The ``ServiceReporter``
reads the totals every second for metrics-collector.
"""

from collections.abc import Awaitable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from switchboard_runtime.service.socket_end import on_socket_end, on_socket_message

__all__ = ["ACTIVITY", "Activity", "ActivityMiddleware"]

OPS_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class Activity:
    def __init__(self) -> None:
        self.requests_total = 0
        self.connections = 0

    def request(self, count: int = 1) -> None:
        self.requests_total += count

    def opened(self) -> None:
        self.connections += 1

    def closed(self) -> None:
        self.connections = max(0, self.connections - 1)


ACTIVITY = Activity()
"""The process's activity (one per process, like Prometheus' default registry)."""


def _is_event_stream(message: Message) -> bool:
    for name, value in message.get("headers", []):
        if bytes(name).lower() == b"content-type":
            return bytes(value).startswith(b"text/event-stream")
    return False


class ActivityMiddleware:
    def __init__(self, app: ASGIApp, activity: Activity = ACTIVITY) -> None:
        self.app = app
        self.activity = activity

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        """A plain function: a WebSocket whose end is run by the outermost layer
        (``socket_end``) is handed on with no frame of this layer on its stack."""
        if scope["type"] == "http":
            return self._http(scope, receive, send)
        if scope["type"] == "websocket":
            watch = _SocketActivity(self.activity, receive, send)
            if on_socket_end(scope, watch.ended):
                if on_socket_message(scope, watch.observe):
                    return self.app(scope, receive, watch.send)
                return self.app(scope, watch.receive, watch.send)
            return self._websocket(scope, watch)
        return self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("path") in OPS_PATHS:
            await self.app(scope, receive, send)
            return
        activity = self.activity
        activity.request()
        streaming = False

        async def watch_send(message: Message) -> None:
            nonlocal streaming
            if message["type"] == "http.response.start" and _is_event_stream(message):
                streaming = True
                activity.opened()
            await send(message)

        try:
            await self.app(scope, receive, watch_send)
        finally:
            if streaming:
                activity.closed()

    async def _websocket(self, scope: Scope, watch: "_SocketActivity") -> None:
        try:
            await self.app(scope, watch.receive, watch.send)
        finally:
            watch.ended(False)


class _SocketActivity:
    """One WebSocket's activity: a slotted object and two bound methods rather than closures
    over cells, as it lives as long as the connection (memory per idle connection)."""

    __slots__ = ("accepted", "activity", "inner_receive", "inner_send")

    def __init__(self, activity: Activity, receive: Receive, send: Send) -> None:
        self.activity = activity
        self.inner_receive = receive
        self.inner_send = send
        self.accepted = False

    async def receive(self) -> Message:
        message = await self.inner_receive()
        self.observe(message)
        return message

    def observe(self, message: Message) -> None:
        if message["type"] == "websocket.receive":
            self.activity.request()

    async def send(self, message: Message) -> None:
        if message["type"] == "websocket.accept" and not self.accepted:
            self.accepted = True
            self.activity.opened()
        await self.inner_send(message)

    def ended(self, _failed: bool) -> None:
        if self.accepted:
            self.activity.closed()
