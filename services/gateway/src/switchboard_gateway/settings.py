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
    sse_keepalive_seconds: float = Field(
        default=15.0, gt=0, description="Idle time after which an SSE stream gets a comment line"
    )
    sse_retry_ms: int = Field(
        default=3000, ge=0, description="The reconnect delay suggested to SSE clients"
    )
    sse_write_timeout_seconds: float = Field(
        default=30.0, gt=0, description="A stream whose client reads nothing this long is closed"
    )
    notify_max_pending: int = Field(
        default=1000,
        ge=1,
        description="Live notifications queued for one stream before it catches up from the log",
    )
