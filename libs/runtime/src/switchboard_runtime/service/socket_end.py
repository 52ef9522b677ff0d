"""What a WebSocket's layers do when it ends, and with what it receives, without a frame of
theirs while it lasts.

An ASGI middleware that acts when a connection ends (counts it closed, records its close code)
awaits the app inside it in a ``try``/``finally``, so its coroutine frame stays alive for as
long as the connection: about 0.5 KB per layer per idle WebSocket
(bench/profiles/README-idle-memory.md). Under ``run_service`` the outermost layer
(``ConnectionAbort``) opens a list of end callbacks in a WebSocket's scope and runs them when
the app returns or raises, innermost first, as nested ``finally`` blocks would; a layer calls
``on_socket_end`` and, when it returns True, hands the socket on as a plain function. Where no
list was opened (another server, a test), it returns False and the layer keeps its own frame.

Likewise a layer that only looks at what the client sends (a frame counted, a close code noted)
would wrap ``receive``, and its wrapper's coroutine waits, with the app's, for the next message
for as long as the socket idles. Under ``run_service`` the server's protocol
(``uvicorn_lean_ws``) puts its receive queue in the scope, and ``on_socket_message`` registers
an observer the queue calls with each message as it arrives; the layer then hands ``receive``
on untouched.
"""

import logging
from collections.abc import Callable
from typing import Protocol

from starlette.types import Message, Scope

__all__ = [
    "SOCKET_END_KEY",
    "SOCKET_MESSAGES_KEY",
    "MessageObserver",
    "ObservedMessages",
    "SocketEnd",
    "on_socket_end",
    "on_socket_message",
    "open_socket_end",
    "run_socket_end",
]

log = logging.getLogger(__name__)

SOCKET_END_KEY = "switchboard.socket_end"

SOCKET_MESSAGES_KEY = "switchboard.socket_messages"

SocketEnd = Callable[[bool], None]
"""Called once when the socket's app returned (False) or raised (True)."""

MessageObserver = Callable[[Message], None]
"""Called with every message the server queues for the app, as it arrives; must not raise."""


class ObservedMessages(Protocol):
    def observe(self, observer: MessageObserver) -> None:
        """Call ``observer`` with each message from now on."""


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


def on_socket_message(scope: Scope, observer: MessageObserver) -> bool:
    """Show ``observer`` every message from now on; False when the server cannot (the caller
    wraps ``receive``)."""
    messages: ObservedMessages | None = scope.get(SOCKET_MESSAGES_KEY)
    if messages is None:
        return False
    messages.observe(observer)
    return True
