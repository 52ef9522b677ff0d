"""The edge wing: who may come in and how much (tokens, origins, the input rule, per-user and
per-gateway limits), and leaving in order (the paced drain). Its middleware wraps the whole app,
outermost first."""

from collections.abc import Mapping

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from switchboard_gateway.edge.auth import Authenticator
from switchboard_gateway.edge.drain import Drain
from switchboard_gateway.edge.guard import EdgeGuard
from switchboard_gateway.edge.limits import Admission, UserCounter, UserFrameRates
from switchboard_gateway.edge.origins import OriginPolicy
from switchboard_gateway.settings import GatewaySettings
from switchboard_gateway.transport.connection_metrics import ConnectionMetrics
from switchboard_gateway.transport.socket_paths import SocketHandler, SocketPaths

__all__ = ["Edge"]


class Edge:
    def __init__(self, settings: GatewaySettings) -> None:
        self._settings = settings
        self.authenticator = Authenticator(settings) if settings.auth_enabled else None
        self.drain = Drain(
            settings.drain_window_seconds,
            settings.drain_batch_size,
            settings.drain_reconnect_max_ms,
        )
        self.admission = Admission(settings.max_connections, settings.max_connections_per_user)
        self.user_rates = UserFrameRates(
            settings.user_frames_per_second,
            settings.user_frame_burst,
            settings.client_rate_strikes,
        )

    def middleware(self, sockets: Mapping[str, SocketHandler]) -> list[Middleware]:
        """CORS, connection metrics, the guard, then ``sockets``: WebSocket paths served from
        the innermost layer rather than a route (``transport.socket_paths`` says why)."""
        settings = self._settings
        origins = settings.origins
        return [
            Middleware(
                CORSMiddleware,
                allow_origins=origins or ["*"],
                allow_credentials=True,
                allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
                allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
                max_age=600,
            ),
            Middleware(ConnectionMetrics),
            Middleware(
                EdgeGuard,
                authenticator=self.authenticator,
                origins=OriginPolicy(origins),
                max_body_bytes=settings.http_max_body_bytes,
                streams=UserCounter(settings.max_streams_per_user),
            ),
            Middleware(SocketPaths, handlers=dict(sockets)),
        ]
