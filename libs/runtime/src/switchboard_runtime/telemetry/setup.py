"""Setting up a service process's logs, traces and metrics identity, once, at start."""

import importlib.metadata
import os
import socket

from switchboard_runtime.service.settings import ServiceSettings
from switchboard_runtime.telemetry.logs import configure_logging
from switchboard_runtime.telemetry.metrics import BUILD_INFO, set_service_name
from switchboard_runtime.telemetry.tracing import setup_tracing, shutdown_tracing

__all__ = ["setup_telemetry", "shutdown_telemetry"]


def _version(service: str) -> str:
    try:
        return importlib.metadata.version(f"switchboard-{service}")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def setup_telemetry(settings: ServiceSettings, service: str) -> None:
    """``service`` is the service's name (``gateway``): the ``service`` label and log field."""
    set_service_name(service)
    configure_logging(settings, settings.log_level, service)
    instance = settings.instance_id or f"{socket.gethostname()}:{os.getpid()}"
    setup_tracing(settings, service, instance)
    BUILD_INFO.labels(service, _version(service)).set(1)


def shutdown_telemetry() -> None:
    shutdown_tracing()
