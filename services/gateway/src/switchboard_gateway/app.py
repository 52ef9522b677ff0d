"""The gateway process: five wings on one bus connection.

- ``edge``: tokens, origins, the input rule, limits and the paced drain (middleware around all);
- ``transport``: outboxes, wire frames, SSE writing, connection metrics (used by the others);
- ``chat``, ``notifications``, ``dashboards``: what clients come for, each with one facade
  (``routes()``, ``start()``, ``drain()``, ``stop()``).
"""

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from switchboard_runtime import Bus, Health, service_routes, start_reporting
from switchboard_runtime.service.draining import on_stop_signal

from switchboard_gateway.chat.wing import Chat
from switchboard_gateway.dashboards.wing import Dashboards
from switchboard_gateway.edge.wing import Edge
from switchboard_gateway.notifications.wing import Notifications
from switchboard_gateway.openapi import openapi_routes
from switchboard_gateway.settings import GatewaySettings
from switchboard_gateway.transport.socket_paths import GatewayApp

__all__ = ["create_app"]


def create_app(settings: GatewaySettings) -> Starlette:
    health = Health()
    bus = Bus(settings, name="gateway")
    health.add_check("nats", lambda: bus.connected)
    edge = Edge(settings)
    notifications = Notifications(settings, bus, edge)
    dashboards = Dashboards(bus, settings)
    chat = Chat(settings, bus, health, edge, users=notifications.users, dashboards=dashboards.hub)
    wings = (chat, notifications, dashboards)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await bus.connect()
        for wing in wings:
            await wing.start()
        reporting = await start_reporting(bus, settings, "gateway")

        def stopping() -> None:
            health.draining = True
            for wing in wings:
                wing.drain()

        # uvicorn's own shutdown (1012 to every WebSocket at once) waits for the paced drain.
        undo_stop_signal = on_stop_signal(stopping, hold=edge.drain.run)
        try:
            yield
        finally:
            undo_stop_signal()
            health.draining = True
            for wing in wings:
                await wing.stop()
            await reporting.stop()
            await bus.close()

    return GatewayApp(
        sockets=chat.sockets(),
        socket_edge=edge.socket_edge,
        routes=[
            *service_routes(health),
            *chat.routes(),  # /ws is no route: GatewayApp serves chat.sockets() before Starlette
            *notifications.routes(),
            *dashboards.routes(),
            *openapi_routes(settings),
            Mount("/", StaticFiles(packages=[("switchboard_gateway", "static")], html=True)),
        ],
        lifespan=lifespan,
        middleware=edge.middleware(),
    )
