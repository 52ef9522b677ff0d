"""Every HTTP request a service serves: counted, timed, logged (query string redacted), traced.

Wraps the service's ASGI app in ``run_service``. The ``route`` label is the matched route's
template (``/api/rooms/{room_id}/messages``), never the raw path. Probes and scrapes
(``/healthz``, ``/readyz``, ``/metrics``) are logged at DEBUG and not traced.
"""

import logging
import time
from collections.abc import Awaitable
from urllib.parse import parse_qsl, urlencode

from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from switchboard_runtime.telemetry.logs import REDACTED, redact
from switchboard_runtime.telemetry.metrics import HTTP_REQUEST_DURATION, HTTP_REQUESTS, service_name
from switchboard_runtime.telemetry.tracing import tracer

__all__ = ["AccessMiddleware", "loggable_target", "route_template"]

log = logging.getLogger("switchboard.access")

_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
_HIDDEN_PARAMS = frozenset({"token", "access_token", "password", "secret", "api_key", "apikey"})
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
SERVER_ERROR = 500


def loggable_target(scope: Scope) -> str:
    """The request's path and query string, with secret parameters blanked."""
    path: str = scope.get("path", "")
    raw = scope.get("query_string", b"").decode("latin-1")
    if not raw:
        return path
    pairs = [
        (name, REDACTED if name.lower() in _HIDDEN_PARAMS else value)
        for name, value in parse_qsl(raw, keep_blank_values=True)
    ]
    return redact(f"{path}?{urlencode(pairs, safe='[]')}")


def route_template(scope: Scope) -> str:
    """The template of the route that served the request; ``unmatched`` when none did."""
    route = scope.get("route")
    if route is None:
        return "unmatched"
    path = str(getattr(route, "path", "") or "")
    if isinstance(route, Mount):
        return f"{path}/*"
    return path or "/"


class AccessMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        """A plain function, not a coroutine: a WebSocket is handed to the app as it is, and no
        frame of this wrapper stays on the socket's stack while it lasts (see ``run``)."""
        if scope["type"] != "http":
            return self.app(scope, receive, send)
        return self._http(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        quiet = scope.get("path") in _QUIET_PATHS
        status = SERVER_ERROR
        started = time.perf_counter()

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        method = str(scope.get("method", "GET"))
        method = method if method in _METHODS else "other"
        if quiet:
            try:
                await self.app(scope, receive, send_and_note)
            finally:
                _record(scope, method, status, started, logging.DEBUG)
            return
        with tracer().start_as_current_span(
            f"{method} {scope.get('path', '')}", kind=SpanKind.SERVER
        ) as span:
            try:
                await self.app(scope, receive, send_and_note)
            finally:
                route = route_template(scope)
                span.update_name(f"{method} {route}")
                span.set_attributes(
                    {
                        "http.request.method": method,
                        "http.route": route,
                        "url.path": scope.get("path", ""),
                        "http.response.status_code": status,
                    }
                )
                if status >= SERVER_ERROR:
                    span.set_status(Status(StatusCode.ERROR))
                _record(scope, method, status, started, logging.INFO)  # in the span: its ids


def _record(scope: Scope, method: str, status: int, started: float, level: int) -> None:
    elapsed = time.perf_counter() - started
    route = route_template(scope)
    HTTP_REQUESTS.labels(service_name(), method, route, str(status)).inc()
    HTTP_REQUEST_DURATION.labels(service_name(), method, route).observe(elapsed)
    log.log(level, '"%s %s" %d %.1fms', method, loggable_target(scope), status, elapsed * 1000)
