"""Running a service process: logging, then uvicorn serving the service's ASGI app."""

import logging
import sys
from typing import Any

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


def run_service(app: ASGIApp, settings: ServiceSettings, **server_options: Any) -> None:
    """Serve ``app``; ``server_options`` are further uvicorn settings (WebSocket keepalive, ...)."""
    configure_logging(settings)
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=int(settings.shutdown_timeout_seconds),
        **server_options,
    )
