from pydantic import Field
from switchboard_runtime import ServiceSettings

__all__ = ["MetricsCollectorSettings"]


class MetricsCollectorSettings(ServiceSettings):
    http_port: int = Field(default=8084, ge=0, le=65535)
