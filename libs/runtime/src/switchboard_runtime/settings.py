"""The settings every service has. Each service subclasses it; ``__main__`` builds it once."""

import re
import sys
from typing import Literal, TypeVar

from pydantic import Field, ValidationError
from pydantic_settings import SettingsConfigDict, SettingsError

from switchboard_runtime.telemetry_settings import TelemetrySettings

__all__ = ["ServiceSettings", "load_settings"]


class ServiceSettings(TelemetrySettings):
    """From the environment; names are the same in local development, the chart and the docs.

    Logging and tracing settings (``LOG_FORMAT``, ``OTEL_*``) come from ``TelemetrySettings``.
    """

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    nats_url: str = Field(
        default="nats://127.0.0.1:4222", description="NATS server URL(s), comma separated"
    )
    http_host: str = "0.0.0.0"
    http_port: int = Field(default=8080, ge=0, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    instance_id: str = Field(default="", description="Unique per process; defaults to host:pid")
    nats_ping_interval_seconds: float = Field(default=5.0, gt=0)
    nats_max_outstanding_pings: int = Field(default=3, ge=1)
    nats_reconnect_wait_seconds: float = Field(default=0.5, gt=0)
    shutdown_timeout_seconds: float = Field(default=10.0, gt=0)
    report_interval_seconds: float = Field(
        default=1.0, gt=0, description="How often the service reports to metrics-collector"
    )
    log_forward_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="INFO", description="Log records at or above this go to the dashboards' log tail"
    )
    log_forward_rate_per_second: float = Field(
        default=20.0, gt=0, description="Log records forwarded per second, at most, on average"
    )
    log_forward_burst: int = Field(
        default=100, ge=1, description="Log records forwarded at once before the rate applies"
    )


S = TypeVar("S", bound=ServiceSettings)


def load_settings(cls: type[S]) -> S:
    """Build settings once; a missing or invalid one stops the service with a message naming it."""
    try:
        return cls()
    except ValidationError as err:
        lines = [f"invalid settings for {cls.__name__}:"]
        for problem in err.errors():
            name = ".".join(str(part) for part in problem["loc"]).upper()
            lines.append(f"  {name}: {problem['msg']}")
        sys.stderr.write("\n".join(lines) + "\n")
        raise SystemExit(2) from None
    except SettingsError as err:  # a JSON-valued setting that is not JSON
        found = re.search(r'field "(\w+)"', str(err))
        name = found.group(1).upper() if found else "?"
        sys.stderr.write(f"invalid settings for {cls.__name__}:\n  {name}: not valid JSON\n")
        raise SystemExit(2) from None
