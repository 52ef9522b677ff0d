"""What a WebSocket's layers do when it ends, without a frame of theirs while it lasts.

An ASGI middleware that acts when a connection ends (counts it closed, records its close code)
awaits the app inside it in a ``try``/``finally``, so its coroutine frame stays alive for as
long as the connection: about 0.5 KB per layer per idle WebSocket
(bench/profiles/README-idle-memory.md). Under ``run_service`` the outermost layer
(``ConnectionAbort``) opens a list of end callbacks in a WebSocket's scope and runs them when
the app returns or raises, innermost first, as nested ``finally`` blocks would; a layer calls
``on_socket_end`` and, when it returns True, hands the socket on as a plain function. Where no
list was opened (another server, a test), it returns False and the layer keeps its own frame.
"""

import logging
from collections.abc import Callable

from starlette.types import Scope

__all__ = ["SOCKET_END_KEY", "SocketEnd", "on_socket_end", "open_socket_end", "run_socket_end"]

log = logging.getLogger(__name__)

SOCKET_END_KEY = "switchboard.socket_end"

SocketEnd = Callable[[bool], None]
"""Called once when the socket's app returned (False) or raised (True)."""


def open_socket_end(scope: Scope) -> list[SocketEnd]:
    ends: list[SocketEnd] = []
    scope[SOCKET_END_KEY] = ends
    return ends


def on_socket_end(scope: Scope, callback: SocketEnd) -> bool:
    """Run ``callback`` when the socket ends; False when nobody would (the caller waits)."""
    ends: list[SocketEnd] | None = scope.get(SOCKET_END_KEY)
    if ends is None:
        return False
    ends.append(callback)
    return True


def run_socket_end(ends: list[SocketEnd], failed: bool) -> None:
    """Every callback, the last registered (innermost) first; one that fails is logged."""
    while ends:
        callback = ends.pop()
        try:
            callback(failed)
        except Exception:
            log.exception("a WebSocket end callback failed")
