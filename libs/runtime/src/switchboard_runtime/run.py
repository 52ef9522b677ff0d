"""Running a service process: logs, traces and metrics, then uvicorn serving its ASGI app."""

import uvicorn
from starlette.types import ASGIApp

from switchboard_runtime.access import AccessMiddleware
from switchboard_runtime.settings import ServiceSettings
from switchboard_runtime.telemetry import setup_telemetry, shutdown_telemetry

__all__ = ["configure_logging", "run_service"]


def configure_logging(settings: ServiceSettings, service: str) -> None:
    """Logs, traces and the metrics' service label, for a command that serves nothing."""
    setup_telemetry(settings, service)


def run_service(
    app: ASGIApp,
    settings: ServiceSettings,
    service: str,
    *,
    websocket_max_bytes: int | None = None,
) -> None:
    """Serve ``app`` as ``service`` (its name: ``gateway``, ``chat``, ...) until SIGTERM.

    WebSocket frames larger than ``websocket_max_bytes`` close the connection with 1009.
    """
    setup_telemetry(settings, service)
    try:
        uvicorn.run(
            AccessMiddleware(app),
            host=settings.http_host,
            port=settings.http_port,
            loop="uvloop",
            http="httptools",
            ws="websockets-sansio",
            ws_per_message_deflate=False,
            ws_max_size=websocket_max_bytes or 16 * 1024 * 1024,
            log_config=None,
            access_log=False,  # AccessMiddleware logs requests, query strings redacted
            lifespan="on",
            timeout_graceful_shutdown=int(settings.shutdown_timeout_seconds),
        )
    finally:
        shutdown_telemetry()
