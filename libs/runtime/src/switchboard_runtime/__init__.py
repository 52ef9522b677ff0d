"""What every Switchboard service shares: settings, bus, health and metrics routes, run loop,
and its telemetry (``metrics``, ``tracing``, ``logs``, ``access``, ``consumer_lag``)."""

from switchboard_runtime.errors import ServiceError, UnavailableError
from switchboard_runtime.messaging.bus import (
    Bus,
    BusUnavailableError,
    ensure_bucket,
    ensure_consumer,
    ensure_stream,
    open_bucket,
    stream_publish,
)
from switchboard_runtime.messaging.publish_retry import (
    PublishRetry,
    PublishUnavailableError,
    publish_until_acked,
)
from switchboard_runtime.service.health import Health
from switchboard_runtime.service.reporting import Reporting, start_reporting
from switchboard_runtime.service.routes import service_routes
from switchboard_runtime.service.run import run_service
from switchboard_runtime.service.settings import ServiceSettings, load_settings

__all__ = [
    "Bus",
    "BusUnavailableError",
    "Health",
    "PublishRetry",
    "PublishUnavailableError",
    "Reporting",
    "ServiceError",
    "ServiceSettings",
    "UnavailableError",
    "ensure_bucket",
    "ensure_consumer",
    "ensure_stream",
    "load_settings",
    "open_bucket",
    "publish_until_acked",
    "run_service",
    "service_routes",
    "start_reporting",
    "stream_publish",
]
