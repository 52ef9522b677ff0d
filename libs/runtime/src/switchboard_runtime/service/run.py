"""Running a service process: logs, traces and metrics, then uvicorn serving its ASGI app."""

from typing import Any

import uvicorn
from starlette.types import ASGIApp

from switchboard_runtime.patches.uvicorn_connection_abort import ConnectionAbort
from switchboard_runtime.patches.uvicorn_lean_ws import LeanWebSocketProtocol
from switchboard_runtime.patches.uvicorn_request_head import BoundedHttpToolsProtocol
from switchboard_runtime.service.access import AccessMiddleware
from switchboard_runtime.service.activity import ActivityMiddleware
from switchboard_runtime.service.gc_tuning import (
    FreezeAfterStartup,
    observe_gc_pauses,
    parse_thresholds,
    set_thresholds,
)
from switchboard_runtime.service.settings import ServiceSettings
from switchboard_runtime.telemetry.log_forwarding import install_log_forwarding
from switchboard_runtime.telemetry.setup import setup_telemetry, shutdown_telemetry

__all__ = ["configure_logging", "run_service"]


def configure_logging(settings: ServiceSettings, service: str) -> None:
    """Logs, traces and the metrics' service label, for a command that serves nothing."""
    setup_telemetry(settings, service)


def run_service(
    app: ASGIApp, settings: ServiceSettings, service: str, **server_options: Any
) -> None:
    """Serve ``app`` as ``service`` (its name: ``gateway``, ``chat``, ...) until SIGTERM;
    ``server_options`` are further uvicorn settings (WebSocket keepalive, frame size, ...)."""
    setup_telemetry(settings, service)
    install_log_forwarding(
        settings.log_forward_level, settings.log_forward_rate_per_second, settings.log_forward_burst
    )
    set_thresholds(parse_thresholds(settings.gc_thresholds))
    observe_gc_pauses()
    # uvicorn's default trusted proxies (FORWARDED_ALLOW_IPS, else loopback), applied by
    # ConnectionAbort rather than by uvicorn's own wrapper (its frame stays on every connection)
    trusted_hosts = uvicorn.Config(app, log_config=None).forwarded_allow_ips
    try:
        uvicorn.run(
            # Outermost, so that it sees uvicorn's own ``send`` (HTTP streams). WebSockets need no
            # RecordWebSocketProtocol: LeanWebSocketProtocol puts itself in the scope.
            # AccessMiddleware (for sockets) and FreezeAfterStartup (for all but the lifespan)
            # only hand over: plain functions returning the app's awaitable, so a connection open
            # for hours keeps no coroutine frame of theirs (~0.4 KB each). The outermost stays a
            # coroutine function: that is how uvicorn tells an ASGI 3 app.
            ConnectionAbort(
                AccessMiddleware(ActivityMiddleware(FreezeAfterStartup(app))),
                trusted_hosts=trusted_hosts,
            ),
            host=settings.http_host,
            port=settings.http_port,
            loop="uvloop",
            http=BoundedHttpToolsProtocol,  # httptools, refusing heads over the limits (414, 431)
            ws=LeanWebSocketProtocol,  # uvicorn's websockets-sansio, keeping less per socket
            ws_per_message_deflate=False,
            log_config=None,
            access_log=False,  # AccessMiddleware logs requests, query strings redacted
            lifespan="on",
            proxy_headers=False,  # ConnectionAbort applies them
            timeout_graceful_shutdown=int(settings.shutdown_timeout_seconds),
            **server_options,
        )
    finally:
        shutdown_telemetry()
