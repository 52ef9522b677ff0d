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
    sse_keepalive_seconds: float = Field(
        default=15.0, gt=0, description="A comment line on idle SSE streams this often"
    )
    dashboard_metrics_max_backlog: int = Field(
        default=1,
        ge=0,
        description="A dashboard client with more frames than this queued skips metrics updates",
    )
    dashboard_logs_max_backlog: int = Field(
        default=100,
        ge=0,
        description="A dashboard client with more frames than this queued misses log entries",
    )
    socketio_cors_origins: tuple[str, ...] = Field(
        default=(),
        description='JSON list of origins allowed to open Socket.IO from other sites; "*" for '
        "any; empty: the gateway's own origin only",
    )
