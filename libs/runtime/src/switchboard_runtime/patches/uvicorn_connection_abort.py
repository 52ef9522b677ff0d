"""Dropping an HTTP connection at once, which ASGI has no message for.

A streaming response whose client stopped reading cannot end politely: the last chunk and the
close wait for the client to read what is buffered, which it does not. ``ConnectionAbort`` is the
outermost ASGI wrapper; it finds the server's transport behind uvicorn's ``send`` and puts its
``abort`` into the scope, which ``abort_connection`` calls: the socket is closed and its buffered
bytes dropped, and the app sees ``http.disconnect``. Under another server it does nothing, and
the caller falls back to returning, after which the server closes the connection itself.
It also records uvicorn's request cycle for ``uvicorn_http_direct`` (stream chunks written
directly), and, being outermost, runs what the layers inside registered for a WebSocket's end
(``service.socket_end``), so that they keep no frame of their own while it lasts.

Given ``trusted_hosts``, it also applies the proxy headers (``X-Forwarded-For``,
``X-Forwarded-Proto``) from those hosts to the scope, with uvicorn's own
``ProxyHeadersMiddleware`` run on the scope alone (around an app that does nothing) before the
app is called: ``run_service`` turns uvicorn's wrapping off, whose coroutine frame each
connection kept for its whole life (0.45 KB per idle WebSocket).
"""

from collections.abc import Callable
from typing import Any, cast

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from switchboard_runtime.patches.uvicorn_http_direct import record_cycle
from switchboard_runtime.service.socket_end import open_socket_end, run_socket_end

__all__ = ["ConnectionAbort", "abort_connection"]

_KEY = "switchboard.abort"


class ConnectionAbort:
    def __init__(self, app: ASGIApp, *, trusted_hosts: list[str] | str | None = None) -> None:
        self.app = app
        self._proxy_headers: ASGIApp | None = (
            None
            if trusted_hosts is None
            else cast(  # uvicorn's ASGI types are narrower than Starlette's; the same protocol
                ASGIApp, ProxyHeadersMiddleware(cast(Any, _scope_only), trusted_hosts=trusted_hosts)
            )
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._proxy_headers is not None:
            await self._proxy_headers(scope, receive, send)  # rewrites the scope, then returns
        if scope["type"] == "http":
            abort = _transport_abort(send)
            if abort is not None:
                scope[_KEY] = abort
            # for ``uvicorn_http_direct``: stream chunks past the ASGI layers
            record_cycle(scope, send)
        elif scope["type"] == "websocket":
            ends = open_socket_end(scope)
            failed = False
            try:
                await self.app(scope, receive, send)
            except BaseException:
                failed = True
                raise
            finally:
                run_socket_end(ends, failed)
            return
        await self.app(scope, receive, send)


async def _scope_only(scope: Scope, receive: Receive, send: Send) -> None:
    """What ``ProxyHeadersMiddleware`` wraps here: its work is on the scope alone."""


def _transport_abort(send: Send) -> Callable[[], None] | None:
    cycle: Any = getattr(send, "__self__", None)  # uvicorn's RequestResponseCycle
    abort = getattr(getattr(cycle, "transport", None), "abort", None)
    return abort if callable(abort) else None


def abort_connection(scope: Scope) -> bool:
    """Drop the connection now; False when the server gave no way to (the caller returns)."""
    abort = scope.get(_KEY)
    if abort is None:
        return False
    abort()
    return True
