"""What every Switchboard service shares: settings, bus, health and metrics routes, run loop."""

from switchboard_runtime.bus import Bus, ensure_consumer, ensure_stream
from switchboard_runtime.health import Health
from switchboard_runtime.reporting import Reporting, start_reporting
from switchboard_runtime.requests import serve_requests
from switchboard_runtime.run import run_service
from switchboard_runtime.service import service_routes
from switchboard_runtime.settings import ServiceSettings, load_settings

__all__ = [
    "Bus",
    "Health",
    "Reporting",
    "ServiceSettings",
    "ensure_consumer",
    "ensure_stream",
    "load_settings",
    "run_service",
    "serve_requests",
    "service_routes",
    "start_reporting",
]
