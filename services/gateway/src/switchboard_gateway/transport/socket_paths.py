"""WebSocket endpoints on fixed paths, served past Starlette.

Starlette routes a WebSocket through ``Starlette.__call__``, its error middleware, the user
middleware (CORS), its exception middleware, the router, the route and two exception wrappers,
and each of them keeps a coroutine frame (and its own ``WebSocket``) alive for as long as the
connection is open: about 6 KB of memory per idle connection. ``/ws`` takes no path parameters
and raises nothing for those layers to handle (its handler closes with a code itself; CORS and
the error middleware only pass WebSockets on), so ``GatewayApp`` hands it to ``SocketPaths``
before any of them: through the connection metrics and the edge guard (``edge``), like every
other endpoint, then to its handler with its ``WebSocket``. Paths it does not know
(``/chat/{roomId}``, Socket.IO) and HTTP go on through Starlette as before.
"""

from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, cast

from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

__all__ = ["GatewayApp", "SocketHandler", "SocketPaths"]

SocketHandler = Callable[[WebSocket], Awaitable[None]]


class SocketPaths:
    def __init__(
        self,
        app: ASGIApp,
        *,
        handlers: Mapping[str, SocketHandler],
        edge: Callable[[ASGIApp], ASGIApp] | None = None,
    ) -> None:
        """``edge`` wraps the handlers (not ``app``) in middleware of their own."""
        self.app = app
        self._handlers = dict(handlers)
        self._sockets: ASGIApp = self._serve if edge is None else edge(self._serve)

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        """A plain function, not a coroutine: it returns the handler's (or the app's)
        awaitable, so it keeps no frame of its own on the connection's stack either."""
        if scope["type"] == "websocket" and scope["path"] in self._handlers:
            return self._sockets(scope, receive, send)
        return self.app(scope, receive, send)

    def _serve(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        return self._handlers[scope["path"]](WebSocket(scope, receive, send))


class GatewayApp(Starlette):
    """Starlette, with the WebSocket paths of ``sockets`` served before it (module docstring),
    wrapped in ``socket_edge``."""

    def __init__(
        self,
        *,
        sockets: Mapping[str, SocketHandler],
        socket_edge: Callable[[ASGIApp], ASGIApp],
        **starlette: Any,
    ) -> None:
        super().__init__(**starlette)
        self._front = SocketPaths(super().__call__, handlers=sockets, edge=socket_edge)

    def __call__(  # a plain function returning the handler's coroutine, or Starlette's
        self, scope: Scope, receive: Receive, send: Send
    ) -> Coroutine[Any, Any, None]:
        return cast(Coroutine[Any, Any, None], self._front(scope, receive, send))
