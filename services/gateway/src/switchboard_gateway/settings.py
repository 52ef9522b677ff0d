from typing import Self

from pydantic import Field, model_validator
from switchboard_runtime import ServiceSettings

__all__ = ["GatewaySettings"]


class GatewaySettings(ServiceSettings):
    http_port: int = Field(default=8080, ge=0, le=65535)
    auth_enabled: bool = Field(default=False, description="Off only for local development")
    jwt_secret: str | None = Field(
        default=None, description="HS256 key of client tokens (or JWKS_URL, or both)"
    )
    jwks_url: str | None = Field(default=None, description="Public keys for RS256/ES256 tokens")
    jwt_audience: str | None = Field(default=None, description="Required 'aud' when set")
    jwt_issuer: str | None = Field(default=None, description="Required 'iss' when set")
    jwt_leeway_seconds: float = Field(default=30.0, ge=0, le=300)
    jwks_min_refresh_seconds: float = Field(
        default=60.0, gt=0, description="An unknown 'kid' refetches the JWKS at most this often"
    )
    allowed_origins: str = Field(
        default="",
        description="Comma-separated exact origins for WebSocket/SSE handshakes and CORS; "
        "empty allows any (local development)",
    )
    http_max_body_bytes: int = Field(
        default=64 * 1024, ge=1024, description="Larger HTTP request bodies get 413"
    )
    max_connections_per_user: int = Field(
        default=20, ge=1, description="WebSocket connections of one user per gateway; more: 1013"
    )
    max_streams_per_user: int = Field(
        default=5, ge=1, description="SSE and long-poll streams of one user per gateway; more: 429"
    )
    user_frames_per_second: float = Field(
        default=100.0, gt=0, description="Frames one user may send per second over all connections"
    )
    user_frame_burst: int = Field(default=200, ge=1, description="... and in a burst")
    outbox_frames: int = Field(
        default=1000,
        ge=1,
        description="Frames queued for one connection before it is cut off (1013)",
    )
    outbox_bytes: int | None = Field(
        default=None,
        ge=1024,
        description="On the direct write path, bytes buffered for one connection beyond its"
        " socket's write buffer (64 KiB) before it is cut off (1013); unset: OUTBOX_FRAMES x 1 KiB",
    )
    ws_direct_writes: bool = Field(
        default=True,
        description="Under uvicorn's websockets-sansio, write pre-encoded frames straight to"
        " each socket, coalesced per loop turn; off: every frame through ASGI send",
    )
    replay_send_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How long a replay or history answer waits for a client to read",
    )
    bus_request_timeout_seconds: float = Field(default=5.0, gt=0)
    chat_send_batches: bool = Field(
        default=True,
        description="Send clients' chat messages to chat in batches (chat.cmd.send-batch);"
        " off: one request each (chat.cmd.send), for chat instances older than batches",
    )
    chat_send_batch_interval_seconds: float = Field(
        default=0.003,
        ge=0,
        le=0.1,
        description="While batches are on their way, at most one leaves per interval; the"
        " messages arriving meanwhile go with it (a lone message on an idle gateway goes at once)",
    )
    chat_send_batches_in_flight: int = Field(
        default=4, ge=1, le=64, description="Batches of chat messages on their way at once"
    )
    sse_keepalive_seconds: float = Field(
        default=15.0,
        gt=0,
        description="How often an SSE stream gets a comment line (a dashboard stream: when idle)",
    )
    sse_retry_ms: int = Field(
        default=3000, ge=0, description="The reconnect delay suggested to SSE clients"
    )
    sse_write_timeout_seconds: float = Field(
        default=30.0, gt=0, description="A stream whose client reads nothing this long is closed"
    )
    sse_direct_writes: bool = Field(
        default=True,
        description="Under uvicorn (httptools), write SSE events straight to the connection's"
        " transport while it is writable; off: every event through ASGI send",
    )
    notify_max_pending: int = Field(
        default=1000,
        ge=1,
        description="Live notifications queued for one stream before it catches up from the log",
    )
    max_connections: int = Field(
        default=10_000, ge=1, description="WebSocket connections per gateway; more get 1013"
    )
    ws_ping_interval_seconds: float = Field(
        default=30.0, gt=0, description="Protocol-level ping to every WebSocket connection"
    )
    ws_ping_timeout_seconds: float = Field(
        default=10.0, gt=0, description="A connection that misses the pong this long is closed"
    )
    ws_max_frame_bytes: int = Field(
        default=64 * 1024, ge=1024, description="Larger client frames close the connection (1009)"
    )
    client_frames_per_second: float = Field(
        default=20.0, gt=0, description="Frames a connection may send per second, on average"
    )
    client_frame_burst: int = Field(default=40, ge=1, description="... and in a burst")
    client_rate_strikes: int = Field(
        default=20,
        ge=1,
        description="Frames refused within 10 s before the connection is closed (4429)",
    )
    typing_throttle_seconds: float = Field(
        default=1.0, ge=0, description="At most one 'is typing' per user and room per interval"
    )
    typing_timeout_seconds: float = Field(
        default=5.0, gt=0, description="An indicator nobody refreshes is cleared after this"
    )
    read_coalesce_seconds: float = Field(
        default=1.0,
        ge=0,
        description="At most one read mark per user and room crosses the bus per interval",
    )
    resume_max_messages: int = Field(
        default=1000,
        ge=1,
        description="A resume missing more messages gets recovered: false (reload history)",
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
    drain_batch_size: int = Field(
        default=50,
        ge=1,
        description="On SIGTERM, connections closed together in one paced batch",
    )
    drain_reconnect_max_ms: int = Field(
        default=5000,
        ge=0,
        description="On SIGTERM, each client is told to reconnect after a random delay up to this",
    )

    @property
    def drain_window_seconds(self) -> float:
        """Closes are spread over half of SHUTDOWN_TIMEOUT_SECONDS (the chart's drainSeconds);
        the other half is for requests in flight and the process's own shutdown."""
        return self.shutdown_timeout_seconds / 2

    @property
    def outbox_byte_limit(self) -> int:
        """What a connection may have buffered on the direct write path before 1013."""
        return self.outbox_bytes if self.outbox_bytes is not None else self.outbox_frames * 1024

    @model_validator(mode="after")
    def _auth_needs_a_key(self) -> Self:
        if self.auth_enabled and not (self.jwt_secret or self.jwks_url):
            raise ValueError("AUTH_ENABLED needs JWT_SECRET or JWKS_URL")
        return self

    @property
    def origins(self) -> list[str]:
        return [o.strip() for o in self.allowed_origins.split(",") if o.strip()]
