"""Running a service process: logging, then uvicorn serving the service's ASGI app."""

import logging
import sys

import uvicorn
from starlette.types import ASGIApp

from switchboard_runtime.settings import ServiceSettings

__all__ = ["configure_logging", "run_service"]


def configure_logging(settings: ServiceSettings) -> None:
    logging.basicConfig(
        level=settings.log_level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        force=True,
    )
    # uvicorn's access log would print query strings, which may carry tokens.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)


def run_service(
    app: ASGIApp, settings: ServiceSettings, *, websocket_max_bytes: int | None = None
) -> None:
    """Serve ``app``; WebSocket frames larger than ``websocket_max_bytes`` close with 1009."""
    configure_logging(settings)
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        ws_max_size=websocket_max_bytes or 16 * 1024 * 1024,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=int(settings.shutdown_timeout_seconds),
    )
