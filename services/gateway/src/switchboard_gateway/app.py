"""The gateway process: WebSocket and HTTP edge on top of the bus."""

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.routing import Mount, WebSocketRoute
from starlette.staticfiles import StaticFiles
from switchboard_runtime import Bus, Health, service_routes, start_reporting
from switchboard_runtime.draining import on_stop_signal

from switchboard_gateway.chat_client import ChatClient
from switchboard_gateway.chat_socket import ChatSocket
from switchboard_gateway.dashboards import Dashboards
from switchboard_gateway.http_api import api_routes
from switchboard_gateway.rooms import RoomHub
from switchboard_gateway.settings import GatewaySettings

__all__ = ["create_app"]


def create_app(settings: GatewaySettings) -> Starlette:
    health = Health()
    bus = Bus(settings, name="gateway")
    health.add_check("nats", lambda: bus.connected)
    chat = ChatClient(bus, settings.bus_request_timeout_seconds)
    hub = RoomHub(bus)
    dashboards = Dashboards(bus, settings)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await bus.connect()
        reporting = await start_reporting(bus, settings, "gateway")
        await dashboards.start()

        def stopping() -> None:
            health.draining = True
            dashboards.drain()

        undo_stop_signal = on_stop_signal(stopping)
        try:
            yield
        finally:
            undo_stop_signal()
            health.draining = True
            await dashboards.stop()
            await reporting.stop()
            await bus.close()

    return Starlette(
        routes=[
            *service_routes(health),
            *api_routes(chat),
            *dashboards.routes(),
            WebSocketRoute("/chat/{room_id}", ChatSocket(settings, hub, chat).handle),
            Mount("/", StaticFiles(packages=[("switchboard_gateway", "static")], html=True)),
        ],
        lifespan=lifespan,
    )
