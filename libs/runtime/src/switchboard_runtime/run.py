"""Running a service process: logging, then uvicorn serving the service's ASGI app."""

import logging
import sys

import uvicorn
from starlette.types import ASGIApp

from switchboard_runtime.activity import ActivityMiddleware
from switchboard_runtime.log_forwarding import install_log_forwarding
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


def run_service(app: ASGIApp, settings: ServiceSettings) -> None:
    configure_logging(settings)
    install_log_forwarding(
        settings.log_forward_level, settings.log_forward_rate_per_second, settings.log_forward_burst
    )
    uvicorn.run(
        ActivityMiddleware(app),
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
    )
