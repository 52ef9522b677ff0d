"""The settings every service has. Each service subclasses it; ``__main__`` builds it once."""

import re
import sys
from typing import Literal, TypeVar

from pydantic import Field, ValidationError
from pydantic_settings import SettingsConfigDict, SettingsError

from switchboard_runtime.telemetry.settings import TelemetrySettings

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
    # A server that dies is noticed at once (its TCP connections close); one that hangs or is
    # cut off after (NATS_MAX_OUTSTANDING_PINGS + 1) x NATS_PING_INTERVAL_SECONDS: 6 s.
    nats_ping_interval_seconds: int = Field(
        default=2, ge=1, description="A PING to the server this often (whole seconds)"
    )
    nats_max_outstanding_pings: int = Field(
        default=2, ge=1, description="PINGs unanswered before the connection is declared dead"
    )
    nats_reconnect_wait_seconds: float = Field(
        default=0.25, gt=0, description="Pause before each reconnect attempt, forever"
    )
    nats_reconnect_jitter_seconds: float = Field(
        default=0.25, ge=0, description="... plus a random part up to this, against herds"
    )
    nats_connect_timeout_seconds: int = Field(
        default=2, ge=1, description="One attempt to open a connection to a server"
    )
    publish_deadline_seconds: float = Field(
        default=4.0,
        gt=0,
        description="A JetStream publish is retried with its message id until acked, this long",
    )
    publish_attempt_timeout_seconds: float = Field(
        default=1.0, gt=0, description="How long one JetStream publish attempt waits for its ack"
    )
    shutdown_timeout_seconds: float = Field(default=10.0, gt=0)
    gc_thresholds: str = Field(
        default="10000,10,10",
        pattern=r"^\s*[1-9]\d*\s*,\s*[1-9]\d*\s*,\s*[1-9]\d*\s*$",
        description="The garbage collector's thresholds gen0,gen1,gen2 (see gc_tuning)",
    )
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
