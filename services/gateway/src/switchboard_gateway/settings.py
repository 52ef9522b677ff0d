from pydantic import Field
from switchboard_runtime import ServiceSettings

__all__ = ["GatewaySettings"]


class GatewaySettings(ServiceSettings):
    http_port: int = Field(default=8080, ge=0, le=65535)
    auth_enabled: bool = Field(default=False, description="Off only for local development")
    outbox_frames: int = Field(
        default=1000,
        ge=1,
        description="Frames queued for one connection before it is cut off (1013)",
    )
    bus_request_timeout_seconds: float = Field(default=5.0, gt=0)
    max_frame_bytes: int = Field(
        default=64 * 1024, ge=1024, description="A larger client frame closes the connection (1009)"
    )
