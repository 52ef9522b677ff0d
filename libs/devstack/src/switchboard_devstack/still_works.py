"""The proof every hostile-input test ends with: the system still does its job for everybody.
The stack's gateway runs with ``tokens.auth_env()`` (the clients here carry test tokens)."""

import contextlib
import secrets

import httpx

from switchboard_devstack.chatframes import acknowledges, in_room, join
from switchboard_devstack.names import new_room, new_user
from switchboard_devstack.polling import stored_rows
from switchboard_devstack.scrape import total
from switchboard_devstack.stack import ServiceHandle, Stack
from switchboard_devstack.tokens import bearer, mint
from switchboard_devstack.wsclient import FrameClient

__all__ = ["StillWorks"]


def _ws_url(gateway: ServiceHandle, user: str) -> str:
    return f"{gateway.ws_url}/ws?token={mint(user)}"


class StillWorks:
    """What must hold after every hostile case: the hostile connection (or a fresh one) sends an
    ordinary chat that is acked, delivered to another member and stored in PostgreSQL, and an
    ordinary notification is acked, listed in the inbox and stored in PostgreSQL, with no write
    refused by PostgreSQL meanwhile."""

    def __init__(self, stack: Stack, database_url: str) -> None:
        self._gateway = stack["gateway"]
        self._persistence = stack["persistence"]
        self._database_url = database_url

    async def check(self, client: FrameClient | None = None, room: str | None = None) -> None:
        room = room or new_room()
        client_msg_id = f"ok-{secrets.token_hex(4)}"
        async with contextlib.AsyncExitStack() as opened:
            if client is None:
                client = await opened.enter_async_context(
                    FrameClient(_ws_url(self._gateway, "alice"))
                )
                await client.send(join(room))
                await client.wait_for("presence", in_room(room))
            bob = await opened.enter_async_context(FrameClient(_ws_url(self._gateway, "bob")))
            await bob.send(join(room))
            await bob.wait_for("presence", in_room(room))
            message = {"room": room, "content": "still fine", "clientMsgId": client_msg_id}
            await client.send({"type": "chat", "payload": message})
            await client.wait_for("ack", acknowledges(client_msg_id))
            await bob.wait_for("chat", lambda f: f["payload"].get("clientMsgId") == client_msg_id)
        by_room = "SELECT client_msg_id FROM chat_messages WHERE room = $1 ORDER BY seq"
        assert client_msg_id in await stored_rows(self._database_url, by_room, room)

        user = new_user()
        async with httpx.AsyncClient(base_url=self._gateway.url, timeout=10) as http:
            sent = await http.post(
                "/api/notifications/send",
                headers=bearer("backend", scope="notifications:send"),
                json={"userId": user, "title": "still here", "message": "body"},
            )
            assert sent.status_code == 200, sent.text
            inbox = await http.get("/api/notifications", headers=bearer(user))
        assert inbox.status_code == 200, inbox.text
        assert [entry["title"] for entry in inbox.json()["notifications"]] == ["still here"]
        by_user = "SELECT title FROM notifications WHERE user_id = $1"
        assert await stored_rows(self._database_url, by_user, user) == ["still here"]
        errors = await total(self._persistence.url, "switchboard_persistence_write_errors_total")
        assert errors == 0
