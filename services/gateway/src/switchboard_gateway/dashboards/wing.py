"""Live dashboards in the gateway, over all three routes of docs/protocol.md §5: Socket.IO
(``/socket.io/``), SSE (``/api/dashboard/stream``) and ``/ws`` rooms ``dashboard:<team>``
(through ``hub``). One ``DashboardFeed`` follows the bus for all of them."""

import asyncio

import socketio
from starlette.routing import BaseRoute, Mount
from switchboard_runtime import Bus

from switchboard_gateway.dashboards.conflation import ConflationPolicy
from switchboard_gateway.dashboards.feed import DashboardFeed
from switchboard_gateway.dashboards.hub import DashboardHub
from switchboard_gateway.dashboards.socketio_manager import NatsManager
from switchboard_gateway.dashboards.socketio_server import SocketIoDashboard
from switchboard_gateway.dashboards.sse import dashboard_stream_routes
from switchboard_gateway.settings import GatewaySettings

__all__ = ["Dashboards"]


class Dashboards:
    def __init__(self, bus: Bus, settings: GatewaySettings) -> None:
        policy = ConflationPolicy(
            metrics_max_backlog=settings.dashboard_metrics_max_backlog,
            logs_max_backlog=settings.dashboard_logs_max_backlog,
        )
        self._keepalive = settings.sse_keepalive_seconds
        self._auth_enabled = settings.auth_enabled
        self._write_timeout = settings.sse_write_timeout_seconds
        self.feed = DashboardFeed(bus)
        self.hub = DashboardHub(self.feed, policy)
        self.manager = NatsManager(bus)
        self.sio = socketio.AsyncServer(
            async_mode="asgi",
            client_manager=self.manager,
            cors_allowed_origins=list(settings.socketio_cors_origins) or None,
            logger=False,
            engineio_logger=False,
        )
        self.socketio = SocketIoDashboard(self.sio, self.feed, policy, settings.auth_enabled)
        self._shutdown: asyncio.Task[None] | None = None

    def routes(self) -> list[BaseRoute]:
        return [
            *dashboard_stream_routes(
                self.hub, self._keepalive, self._auth_enabled, self._write_timeout
            ),
            Mount("/socket.io", app=socketio.ASGIApp(self.sio, socketio_path=None)),
        ]

    async def start(self) -> None:
        """After the bus is connected: follow the dashboard subjects, join the other replicas."""
        await self.feed.start()
        self.sio.manager_initialized = True
        self.manager.initialize()

    def drain(self) -> None:
        """The gateway is asked to stop: end SSE streams and Socket.IO sessions (long polls
        included) now, rather than hold the stop until the graceful-shutdown timeout."""
        self.hub.drain()
        if self._shutdown is None:
            self._shutdown = asyncio.create_task(self.sio.shutdown())

    async def stop(self) -> None:
        if self._shutdown is not None:
            await self._shutdown
        await self.manager.close()
        await self.feed.stop()
