"""The edge wing: who may come in and how much (tokens, origins, the input rule, per-user and
per-gateway limits), and leaving in order (the paced drain). Its middleware wraps the whole app,
outermost first; ``socket_edge`` does the same for the socket paths served before Starlette."""

from typing import Any

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

from switchboard_gateway.edge.auth import Authenticator
from switchboard_gateway.edge.drain import Drain
from switchboard_gateway.edge.guard import EdgeGuard
from switchboard_gateway.edge.limits import Admission, UserCounter, UserFrameRates
from switchboard_gateway.edge.origins import OriginPolicy
from switchboard_gateway.settings import GatewaySettings
from switchboard_gateway.transport.connection_metrics import ConnectionMetrics

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
        self._guard: dict[str, Any] = {
            "authenticator": self.authenticator,
            "origins": OriginPolicy(settings.origins),
            "max_body_bytes": settings.http_max_body_bytes,
            "streams": UserCounter(settings.max_streams_per_user),
        }

    def middleware(self) -> list[Middleware]:
        """CORS, connection metrics, the guard: around every HTTP request and WebSocket that
        Starlette serves."""
        origins = self._settings.origins
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
            Middleware(EdgeGuard, **self._guard),
        ]

    def socket_edge(self, sockets: ASGIApp) -> ASGIApp:
        """What the middleware does, for WebSocket paths served before Starlette
        (``transport.socket_paths``): the connection metrics and the guard (CORS has nothing to
        do for a WebSocket)."""
        return ConnectionMetrics(EdgeGuard(sockets, **self._guard))
