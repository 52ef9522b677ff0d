"""WebSocket endpoints on fixed paths, served from the innermost middleware.

Starlette routes a WebSocket through its exception middleware, the router, the route and two
exception wrappers, and each of them keeps a coroutine frame (and its own ``WebSocket``) alive
for as long as the connection is open: about 5 KB of memory per idle connection. ``/ws`` takes
no path parameters and raises nothing for those layers to handle (its handler closes with a
code itself), so ``SocketPaths`` hands it its ``WebSocket`` directly, after the edge guard and
the connection metrics like every other endpoint. Paths it does not know (``/chat/{roomId}``,
Socket.IO) go on to the router as before.
"""

from collections.abc import Awaitable, Callable, Mapping

from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

__all__ = ["SocketHandler", "SocketPaths"]

SocketHandler = Callable[[WebSocket], Awaitable[None]]


class SocketPaths:
    def __init__(self, app: ASGIApp, *, handlers: Mapping[str, SocketHandler]) -> None:
        self.app = app
        self._handlers = dict(handlers)

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        """A plain function, not a coroutine: it returns the handler's (or the app's)
        awaitable, so it keeps no frame of its own on the connection's stack either."""
        handler = self._handlers.get(scope["path"]) if scope["type"] == "websocket" else None
        if handler is None:
            return self.app(scope, receive, send)
        return handler(WebSocket(scope, receive, send))
