"""How a service logs and traces. Part of every service's settings (``ServiceSettings``).

Tracing takes the standard ``OTEL_*`` variables, nothing of our own. The ones declared here are
validated at start; the OpenTelemetry SDK itself reads the rest of the standard set (headers,
timeout, compression and certificates of the exporter,
``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_BSP_*``, ``OTEL_PROPAGATORS``).
"""

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings

__all__ = ["TelemetrySettings"]


class TelemetrySettings(BaseSettings):
    log_format: Literal["json", "text"] = Field(
        default="json",
        description="json: one object per line with trace and span ids; text: for a terminal",
    )
    otel_sdk_disabled: bool = Field(default=False, description="true: no spans at all")
    otel_service_name: str = Field(
        default="", description="service.name of the spans; defaults to the service's name"
    )
    otel_traces_exporter: Literal["otlp", "console", "none"] = Field(
        default="otlp",
        description="otlp exports only when an endpoint is set; console prints spans to stdout",
    )
    otel_traces_sampler: Literal[
        "always_on",
        "always_off",
        "traceidratio",
        "parentbased_always_on",
        "parentbased_always_off",
        "parentbased_traceidratio",
    ] = Field(
        default="parentbased_traceidratio",
        description="Which traces are recorded: by default a ratio of the new ones (the edge"
        " decides) and whatever the caller's trace decided; parentbased_always_on for all",
    )
    otel_traces_sampler_arg: float = Field(
        default=0.01,
        ge=0,
        le=1,
        description="The ratio of new traces recorded (the *traceidratio samplers); an"
        " unrecorded span costs next to nothing and still gives log lines their ids",
    )
    otel_exporter_otlp_endpoint: str = Field(
        default="", description="OTLP/HTTP base URL, e.g. http://collector:4318 (/v1/traces added)"
    )
    otel_exporter_otlp_traces_endpoint: str = Field(
        default="", description="Full OTLP/HTTP traces URL; wins over OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    otel_exporter_otlp_protocol: Literal["http/protobuf"] = Field(
        default="http/protobuf", description="Only OTLP over HTTP is built in"
    )
    otel_exporter_otlp_traces_protocol: Literal["http/protobuf"] | None = None

    @property
    def otlp_traces_endpoint(self) -> str | None:
        """Where spans go, or None when no endpoint is set (nothing is exported then)."""
        if self.otel_exporter_otlp_traces_endpoint:
            return self.otel_exporter_otlp_traces_endpoint
        if self.otel_exporter_otlp_endpoint:
            return self.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
        return None
