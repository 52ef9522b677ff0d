"""The chat wing: rooms over both WebSocket forms and HTTP, with presence, typing, history and
resume. ``/chat/{roomId}`` is a route; ``/ws`` is served from the innermost middleware
(``sockets``, see ``transport.socket_paths``)."""

from starlette.routing import BaseRoute, WebSocketRoute
from switchboard_runtime import Bus, Health

from switchboard_gateway.chat.client import BatchPolicy, ChatClient
from switchboard_gateway.chat.dispatch import ChatDispatch
from switchboard_gateway.chat.http_api import api_routes
from switchboard_gateway.chat.multi_room_socket import MultiRoomSocket
from switchboard_gateway.chat.presence import LocalPresence
from switchboard_gateway.chat.presence_sync import PresenceSync, gateway_id
from switchboard_gateway.chat.read_marks import ReadMarks
from switchboard_gateway.chat.room_hub import RoomHub
from switchboard_gateway.chat.room_log import RoomLog
from switchboard_gateway.chat.room_socket import ChatSocket
from switchboard_gateway.chat.session import SessionDeps
from switchboard_gateway.chat.typing_indicators import TypingSource
from switchboard_gateway.dashboards.hub import DashboardHub
from switchboard_gateway.edge.wing import Edge
from switchboard_gateway.notifications.user_hub import UserHub
from switchboard_gateway.settings import GatewaySettings
from switchboard_gateway.transport.socket_paths import SocketHandler

__all__ = ["Chat"]


class Chat:
    def __init__(
        self,
        settings: GatewaySettings,
        bus: Bus,
        health: Health,
        edge: Edge,
        *,
        users: UserHub,
        dashboards: DashboardHub,
    ) -> None:
        self._settings = settings
        timeout = settings.bus_request_timeout_seconds
        batches = (
            BatchPolicy(
                settings.chat_send_batch_interval_seconds, settings.chat_send_batches_in_flight
            )
            if settings.chat_send_batches
            else None
        )
        self.client = ChatClient(bus, timeout, batches)
        self.room_log = RoomLog(bus, self.client, timeout)
        self.reads = ReadMarks(bus, self.room_log, timeout, settings.read_coalesce_seconds)
        instance = settings.instance_id or "gateway"
        presence = LocalPresence(gateway_id(instance))
        self._presence_sync = PresenceSync(bus, presence, instance)
        health.add_check("presence", lambda: self._presence_sync.running)
        self.hub = RoomHub(
            bus,
            self.room_log,
            self.client,
            settings.typing_timeout_seconds,
            presence=presence,
            presence_sync=self._presence_sync,
            resume_max_messages=settings.resume_max_messages,
        )
        dispatch = ChatDispatch(
            presence,
            TypingSource(settings.typing_throttle_seconds, settings.typing_timeout_seconds),
            auth_enabled=settings.auth_enabled,
            renewals=edge.authenticator is not None,
        )
        deps = SessionDeps(
            settings=settings,
            hub=self.hub,
            chat=self.client,
            room_log=self.room_log,
            dispatch=dispatch,
            users=users,
            dashboards=dashboards,
            drain=edge.drain,
            background=set(),
            authenticator=edge.authenticator,
            user_rates=edge.user_rates,
            reads=self.reads,
        )
        self._room_socket = ChatSocket(deps, edge.admission)
        self._multi_room_socket = MultiRoomSocket(deps, edge.admission)

    def routes(self) -> list[BaseRoute]:
        return [
            *api_routes(self._settings, self.client, self.room_log, self.reads),
            WebSocketRoute("/chat/{room_id}", self._room_socket.handle),
        ]

    def sockets(self) -> dict[str, SocketHandler]:
        return {"/ws": self._multi_room_socket.handle}

    async def start(self) -> None:
        self.hub.start()
        self._presence_sync.start()

    def drain(self) -> None:
        """Sockets are closed by the edge's paced drain, which every session is tracked by."""

    async def stop(self) -> None:
        await self._presence_sync.stop()
        await self.hub.stop()
        await self.reads.stop()
