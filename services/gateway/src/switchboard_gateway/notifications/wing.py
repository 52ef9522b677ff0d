"""The notifications wing: per-user inboxes over SSE, long-polling, WebSockets and HTTP
(docs/protocol.md §3). One core subscription per user with a connection here (``user_hub``)."""

from starlette.routing import BaseRoute
from switchboard_runtime import Bus

from switchboard_gateway.edge.wing import Edge
from switchboard_gateway.notifications.client import NotificationsClient
from switchboard_gateway.notifications.http_api import NotificationsApi
from switchboard_gateway.notifications.inbox_log import StoredInbox
from switchboard_gateway.notifications.keepalive import KeepaliveSweep
from switchboard_gateway.notifications.user_hub import KnownUsers, UserHub
from switchboard_gateway.settings import GatewaySettings

__all__ = ["Notifications"]


class Notifications:
    def __init__(self, settings: GatewaySettings, bus: Bus, edge: Edge) -> None:
        timeout = settings.bus_request_timeout_seconds
        self.client = NotificationsClient(bus, timeout)
        known = KnownUsers(self.client.register)
        self.users = UserHub(bus, known, self.client.audiences)
        bus.on_disconnected.append(self.users.hold_all)
        bus.on_reconnected.append(self.users.resync_all)
        self._keepalives = KeepaliveSweep(settings.sse_keepalive_seconds)
        self._api = NotificationsApi(
            settings,
            self.users,
            known,
            self.client,
            StoredInbox(bus, timeout, self.client.memberships),
            drain=edge.drain,
            keepalives=self._keepalives,
        )

    def routes(self) -> list[BaseRoute]:
        return list(self._api.routes())

    async def start(self) -> None:
        """The streams' keepalives; a user's subscription opens with their first connection."""
        self._keepalives.start()

    def drain(self) -> None:
        """Streams are ended by the edge's paced drain, which every stream is tracked by."""

    async def stop(self) -> None:
        """The keepalives; subscriptions end with their connections and the bus."""
        await self._keepalives.stop()
