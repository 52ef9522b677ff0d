"""The gateway process: WebSocket and HTTP edge on top of the bus."""

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, WebSocketRoute
from starlette.staticfiles import StaticFiles
from switchboard_runtime import Bus, Health, service_routes

from switchboard_gateway.chat_client import ChatClient
from switchboard_gateway.chat_socket import ChatSocket
from switchboard_gateway.edge import ConnectionMetrics
from switchboard_gateway.http_api import api_routes
from switchboard_gateway.inbox_log import StoredInbox
from switchboard_gateway.notifications_api import NotificationsApi
from switchboard_gateway.notify_client import NotifyClient
from switchboard_gateway.rooms import RoomHub
from switchboard_gateway.settings import GatewaySettings
from switchboard_gateway.users import KnownUsers, UserHub

__all__ = ["create_app"]


def create_app(settings: GatewaySettings) -> Starlette:
    health = Health()
    bus = Bus(settings, name="gateway")
    health.add_check("nats", lambda: bus.connected)
    chat = ChatClient(bus, settings.bus_request_timeout_seconds)
    hub = RoomHub(bus)
    notify = NotifyClient(bus, settings.bus_request_timeout_seconds)
    known = KnownUsers(notify.register)
    users = UserHub(bus, known)
    bus.on_reconnected.append(users.resync_all)
    inbox = StoredInbox(bus, settings.bus_request_timeout_seconds)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await bus.connect()
        try:
            yield
        finally:
            health.draining = True
            await bus.close()

    return Starlette(
        routes=[
            *service_routes(health),
            *api_routes(chat),
            *NotificationsApi(settings, users, known, notify, inbox).routes(),
            WebSocketRoute("/chat/{room_id}", ChatSocket(settings, hub, chat, users).handle),
            Mount("/", StaticFiles(packages=[("switchboard_gateway", "static")], html=True)),
        ],
        lifespan=lifespan,
        middleware=[Middleware(ConnectionMetrics)],
    )
