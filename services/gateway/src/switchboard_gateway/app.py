"""The gateway process: WebSocket and HTTP edge on top of the bus."""

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Mount, WebSocketRoute
from starlette.staticfiles import StaticFiles
from switchboard_runtime import Bus, Health, service_routes, start_reporting
from switchboard_runtime.draining import on_stop_signal

from switchboard_gateway.chat.client import ChatClient
from switchboard_gateway.chat.dispatch import ChatDispatch
from switchboard_gateway.chat.http_api import api_routes
from switchboard_gateway.chat.multi_room_socket import MultiRoomSocket
from switchboard_gateway.chat.presence import LocalPresence
from switchboard_gateway.chat.presence_sync import PresenceSync, gateway_id
from switchboard_gateway.chat.room_hub import RoomHub
from switchboard_gateway.chat.room_log import RoomLog
from switchboard_gateway.chat.room_socket import ChatSocket
from switchboard_gateway.chat.session import SessionDeps
from switchboard_gateway.chat.typing_indicators import TypingSource
from switchboard_gateway.dashboards.wing import Dashboards
from switchboard_gateway.edge.auth import Authenticator
from switchboard_gateway.edge.drain import Drain
from switchboard_gateway.edge.guard import EdgeGuard
from switchboard_gateway.edge.limits import UserCounter, UserFrameRates
from switchboard_gateway.edge.openapi import openapi_routes
from switchboard_gateway.edge.origins import OriginPolicy
from switchboard_gateway.notifications.client import NotifyClient
from switchboard_gateway.notifications.http_api import NotificationsApi
from switchboard_gateway.notifications.inbox_log import StoredInbox
from switchboard_gateway.notifications.user_hub import KnownUsers, UserHub
from switchboard_gateway.settings import GatewaySettings
from switchboard_gateway.transport.connection_metrics import ConnectionMetrics
from switchboard_gateway.transport.connections import Admission
from switchboard_gateway.transport.socket_paths import SocketPaths

__all__ = ["create_app"]


def create_app(settings: GatewaySettings) -> Starlette:
    health = Health()
    bus = Bus(settings, name="gateway")
    health.add_check("nats", lambda: bus.connected)
    timeout = settings.bus_request_timeout_seconds
    chat = ChatClient(bus, timeout)
    room_log = RoomLog(bus, chat, timeout)
    instance = settings.instance_id or "gateway"
    presence = LocalPresence(gateway_id(instance))
    presence_sync = PresenceSync(bus, presence, instance)
    health.add_check("presence", lambda: presence_sync.running)
    hub = RoomHub(
        bus,
        room_log,
        chat,
        settings.typing_timeout_seconds,
        presence=presence,
        presence_sync=presence_sync,
        resume_max_messages=settings.resume_max_messages,
    )
    background: set[Any] = set()
    notify = NotifyClient(bus, timeout)
    known = KnownUsers(notify.register)
    users = UserHub(bus, known)
    bus.on_reconnected.append(users.resync_all)
    inbox = StoredInbox(bus, timeout)
    authenticator = Authenticator(settings) if settings.auth_enabled else None
    dispatch = ChatDispatch(
        presence,
        TypingSource(settings.typing_throttle_seconds, settings.typing_timeout_seconds),
        auth_enabled=settings.auth_enabled,
        renewals=authenticator is not None,
    )
    dashboards = Dashboards(bus, settings)
    drain = Drain(
        settings.drain_window_seconds, settings.drain_batch_size, settings.drain_reconnect_max_ms
    )
    deps = SessionDeps(
        settings=settings,
        hub=hub,
        chat=chat,
        room_log=room_log,
        dispatch=dispatch,
        users=users,
        dashboards=dashboards.hub,
        drain=drain,
        background=background,
        authenticator=authenticator,
        user_rates=UserFrameRates(
            settings.user_frames_per_second,
            settings.user_frame_burst,
            settings.client_rate_strikes,
        ),
    )
    admission = Admission(settings.max_connections, settings.max_connections_per_user)
    multi_room = MultiRoomSocket(deps, admission)
    origins = settings.origins

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await bus.connect()
        hub.start()
        presence_sync.start()
        reporting = await start_reporting(bus, settings, "gateway")
        await dashboards.start()

        def stopping() -> None:
            health.draining = True
            dashboards.drain()

        # uvicorn's own shutdown (1012 to every WebSocket at once) waits for the paced drain.
        undo_stop_signal = on_stop_signal(stopping, hold=drain.run)
        try:
            yield
        finally:
            undo_stop_signal()
            health.draining = True
            await presence_sync.stop()
            await hub.stop()
            await dashboards.stop()
            await reporting.stop()
            await bus.close()

    return Starlette(
        routes=[
            *service_routes(health),
            *api_routes(settings, chat, room_log),
            *NotificationsApi(settings, users, known, notify, inbox, drain=drain).routes(),
            *dashboards.routes(),
            *openapi_routes(settings),
            WebSocketRoute("/chat/{room_id}", ChatSocket(deps, admission).handle),
            Mount("/", StaticFiles(packages=[("switchboard_gateway", "static")], html=True)),
        ],
        lifespan=lifespan,
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=origins or ["*"],
                allow_credentials=True,
                allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
                allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
                max_age=600,
            ),
            Middleware(ConnectionMetrics),
            Middleware(
                EdgeGuard,
                authenticator=authenticator,
                origins=OriginPolicy(origins),
                max_body_bytes=settings.http_max_body_bytes,
                streams=UserCounter(settings.max_streams_per_user),
            ),
            Middleware(SocketPaths, handlers={"/ws": multi_room.handle}),
        ],
    )
