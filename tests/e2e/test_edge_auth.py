"""Authentication, origins, authorisation and per-user limits at the edge, with AUTH_ENABLED=true.

Each hostile case asserts the documented status or close code and that nothing was subscribed
or stored: the room's presence stays empty, the inbox stays empty, the connection gauges of
``/metrics`` are back where they were.
"""

import asyncio
import json
import secrets
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from switchboard_devstack.chatframes import acknowledges, chat, joined, new_room
from switchboard_devstack.fixtures import stack_fixture
from switchboard_devstack.scrape import by_transport, until_connections_at_most
from switchboard_devstack.sioclient import SocketIoRecorder
from switchboard_devstack.sseclient import EventClient
from switchboard_devstack.stack import ServiceHandle
from switchboard_devstack.tokens import auth_env, bearer, mint, service, unsigned
from switchboard_devstack.wsclient import (
    UPGRADE_HEADERS,
    FrameClient,
    handshake_status,
    read_until_closed,
)
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

pytestmark = pytest.mark.e2e

ALLOWED_ORIGIN = "https://app.example"
BODY_LIMIT = 2048
PER_USER_CONNECTIONS = 2


stack = stack_fixture(
    "e2e-edge-auth",
    *("persistence", "chat", "notification", "gateway"),
    env_of={
        "gateway": {
            **auth_env(),
            "JWT_LEEWAY_SECONDS": "0",
            "ALLOWED_ORIGINS": ALLOWED_ORIGIN,
            "HTTP_MAX_BODY_BYTES": str(BODY_LIMIT),
            "MAX_CONNECTIONS_PER_USER": str(PER_USER_CONNECTIONS),
            "MAX_STREAMS_PER_USER": "1",
            "CLIENT_FRAMES_PER_SECOND": "1000",
            "CLIENT_FRAME_BURST": "1000",
            "USER_FRAMES_PER_SECOND": "1",
            "USER_FRAME_BURST": "5",
            "CLIENT_RATE_STRIKES": "5",
        }
    },
)


async def gauges(gateway: ServiceHandle) -> dict[str, float]:
    return await by_transport(gateway.url, "switchboard_gateway_connections")


async def online_in(gateway: ServiceHandle, room: str, viewer: str = "observer") -> list[str]:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        answer = await http.get(f"/api/rooms/{room}/presence", headers=bearer(viewer))
    assert answer.status_code == 200, answer.text
    return [user["userId"] for user in answer.json()["onlineUsers"]]


async def until_nobody_in(gateway: ServiceHandle, room: str) -> None:
    """Poll the room's presence until it is empty (it is synchronised across gateways)."""
    async with asyncio.timeout(10):
        while await online_in(gateway, room):  # noqa: ASYNC110 (polling an HTTP endpoint)
            await asyncio.sleep(0.1)


# --- tokens at the handshake ----------------------------------------------------------------

HOSTILE_TOKENS: dict[str, Callable[[], str]] = {
    "expired": lambda: mint("mallory", ttl=-60),
    "not yet valid": lambda: mint("mallory", nbf=int(time.time()) + 600),
    "wrong audience": lambda: mint("mallory", aud="someone-else"),
    "wrong issuer": lambda: mint("mallory", iss="https://evil.test"),
    "alg none": lambda: unsigned("mallory"),
    "wrong secret": lambda: mint("mallory", key="not-the-secret-" + "y" * 32),
    "garbage": lambda: "not.a.jwt",
}


@pytest.mark.parametrize("case", ["no token", *HOSTILE_TOKENS])
async def test_a_websocket_without_a_valid_token_is_refused_with_401_before_subscribing(
    gateway: ServiceHandle, case: str
) -> None:
    room = new_room()
    before = await gauges(gateway)
    query = "" if case == "no token" else f"?token={HOSTILE_TOKENS[case]()}"
    assert await handshake_status(f"{gateway.ws_url}/chat/{room}{query}") == 401
    assert await handshake_status(f"{gateway.ws_url}/ws{query}") == 401
    assert await online_in(gateway, room) == []
    assert (await gauges(gateway)).get("websocket", 0) == before.get("websocket", 0)


@pytest.mark.parametrize("case", ["no token", *HOSTILE_TOKENS])
async def test_http_sse_and_long_poll_without_a_valid_token_answer_401(
    gateway: ServiceHandle, case: str
) -> None:
    headers = {} if case == "no token" else {"Authorization": f"Bearer {HOSTILE_TOKENS[case]()}"}
    async with httpx.AsyncClient(base_url=gateway.url, headers=headers) as http:
        for path in (
            "/api/notifications/stream",
            "/api/notifications/poll?timeout=0",
            "/api/notifications",
            "/api/rooms",
        ):
            answer = await http.get(path)
            assert answer.status_code == 401, path
            assert answer.headers["www-authenticate"] == "Bearer"
            assert answer.json()["error"]
        assert (await http.post("/api/rooms", json={"id": new_room()})).status_code == 401


@pytest.mark.parametrize("where", ["header", "cookie", "query"])
async def test_the_token_is_taken_from_the_header_the_cookie_or_the_query(
    gateway: ServiceHandle, where: str
) -> None:
    value = mint("alice")
    url = f"{gateway.ws_url}/ws"
    kwargs: dict[str, Any] = {}
    if where == "header":
        kwargs["additional_headers"] = {"Authorization": f"Bearer {value}"}
    elif where == "cookie":
        kwargs["additional_headers"] = {"Cookie": f"access_token={value}"}
    else:
        url += f"?token={value}"
    async with connect(url, open_timeout=10, **kwargs) as ws:
        greeting = await asyncio.wait_for(ws.recv(), 10)
    assert "Connected successfully" in str(greeting)


async def test_the_user_comes_from_the_token_and_the_user_id_parameter_is_ignored(
    gateway: ServiceHandle,
) -> None:
    room = new_room()
    async with FrameClient(f"{gateway.ws_url}/chat/{room}?userId=alice&token={mint('bob')}") as c:
        await joined(c, room, "bob")  # presence is written after the handshake
        assert await online_in(gateway, room) == ["bob"]


# --- expiry mid-connection --------------------------------------------------------------------


async def test_a_connection_whose_token_expires_is_closed_with_1008(
    gateway: ServiceHandle,
) -> None:
    room = new_room()
    async with FrameClient(f"{gateway.ws_url}/chat/{room}?token={mint('carol', ttl=2)}") as c:
        await c.wait_for("notification")
        async with asyncio.timeout(10):
            await c.closed.wait()
        assert c.ws.close_code == 1008
    await until_nobody_in(gateway, room)


async def test_a_fresh_token_in_an_auth_frame_keeps_the_connection_open(
    gateway: ServiceHandle,
) -> None:
    short = mint("dave", ttl=2)
    async with FrameClient(f"{gateway.ws_url}/ws?token={short}") as dave:
        await dave.send({"type": "auth", "payload": {"token": mint("dave", ttl=300)}})
        renewed = await dave.wait_for("auth")
        assert renewed["payload"]["expiresAt"]
        await asyncio.sleep(3)  # past the first token's expiry: nothing to wait for but time
        await dave.send({"type": "ping", "payload": "still here"})
        await dave.wait_for("pong")
        assert not dave.closed.is_set()


async def test_an_auth_frame_for_another_user_or_an_expired_token_is_refused(
    gateway: ServiceHandle,
) -> None:
    async with FrameClient(f"{gateway.ws_url}/ws?token={mint('erin', ttl=300)}") as erin:
        await erin.send({"type": "auth", "payload": {"token": mint("mallory")}})
        forbidden = await erin.wait_for("error", lambda f: f["payload"]["ref"] == "auth")
        assert forbidden["payload"]["code"] == "forbidden"
        await erin.send({"type": "auth", "payload": {"token": mint("erin", ttl=-60)}})
        await erin.wait_for("error", lambda f: f["payload"]["code"] == "unauthorized")
        assert erin.of_type("auth") == []


# --- origins ----------------------------------------------------------------------------------


async def test_a_foreign_origin_is_refused_with_403_on_websocket_and_sse(
    gateway: ServiceHandle,
) -> None:
    room = new_room()
    value = mint("frank")
    url = f"{gateway.ws_url}/chat/{room}?token={value}"
    assert await handshake_status(url, origin="https://evil.example") == 403
    assert await online_in(gateway, room) == []
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        answer = await http.get(
            "/api/notifications/stream",
            headers={"Origin": "https://evil.example", "Authorization": f"Bearer {value}"},
        )
    assert answer.status_code == 403
    async with connect(url, origin=ALLOWED_ORIGIN, open_timeout=10) as ws:  # type: ignore[arg-type]
        await asyncio.wait_for(ws.recv(), 10)


async def test_cors_answers_the_allowed_origin_only(gateway: ServiceHandle) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        preflight = {"Access-Control-Request-Method": "POST"}
        allowed = await http.options(
            "/api/notifications/send", headers={"Origin": ALLOWED_ORIGIN, **preflight}
        )
        foreign = await http.options(
            "/api/notifications/send", headers={"Origin": "https://evil.example", **preflight}
        )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "access-control-allow-origin" not in foreign.headers


# --- authorisation ----------------------------------------------------------------------------


async def test_sending_and_broadcasting_need_a_service_scope(gateway: ServiceHandle) -> None:
    body = {"userId": "grace", "type": "info", "title": "hi", "message": "m"}
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        as_user = await http.post("/api/notifications/send", json=body, headers=bearer("grace"))
        wrong = await http.post(
            "/api/notifications/send", json=body, headers=service("notifications:broadcast")
        )
        no_broadcast = await http.post(
            "/api/notifications/broadcast",
            json={"type": "info", "title": "all", "message": "m"},
            headers=service("notifications:send"),
        )
        inbox = await http.get("/api/notifications", headers=bearer("grace"))
        assert inbox.json()["notifications"] == []
        sent = await http.post(
            "/api/notifications/send", json=body, headers=service("notifications:send")
        )
        inbox = await http.get("/api/notifications", headers=bearer("grace"))
    assert (as_user.status_code, wrong.status_code, no_broadcast.status_code) == (403, 403, 403)
    assert "notifications:send" in as_user.json()["error"]
    assert sent.status_code == 200, sent.text
    assert [n["title"] for n in inbox.json()["notifications"]] == ["hi"]


async def test_a_user_reads_only_their_own_inbox(gateway: ServiceHandle) -> None:
    victim = f"victim-{secrets.token_hex(3)}"
    body = {"userId": victim, "type": "info", "title": "secret", "message": "m"}
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        sent = await http.post(
            "/api/notifications/send", json=body, headers=service("notifications:send")
        )
        assert sent.status_code == 200
        theirs = await http.get(f"/api/notifications?userId={victim}", headers=bearer("mallory"))
        poll = await http.get(
            f"/api/notifications/poll?userId={victim}&cursor=0&timeout=0",
            headers=bearer("mallory"),
        )
        own = await http.get("/api/notifications", headers=bearer(victim))
    assert theirs.status_code == 200
    assert all(n["title"] != "secret" for n in theirs.json()["notifications"])
    assert all(n["title"] != "secret" for n in poll.json()["notifications"])
    assert [n["title"] for n in own.json()["notifications"]] == ["secret"]


async def test_private_rooms_need_a_rooms_scope_and_refuse_non_members(
    gateway: ServiceHandle,
) -> None:
    room = new_room()
    spec = {"id": room, "name": "Board", "private": True, "members": ["henry"]}
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        as_user = await http.post("/api/rooms", json=spec, headers=bearer("henry"))
        created = await http.post("/api/rooms", json=spec, headers=service("rooms:manage"))
        history = await http.get(f"/api/rooms/{room}/messages", headers=bearer("mallory"))
    assert as_user.status_code == 403
    assert created.status_code == 201, created.text
    assert history.status_code == 403
    assert await handshake_status(f"{gateway.ws_url}/chat/{room}?token={mint('mallory')}") == 403
    async with FrameClient(f"{gateway.ws_url}/ws?token={mint('mallory')}") as mallory:
        await mallory.send({"type": "join", "payload": {"room": room}})
        refused = await mallory.wait_for("error", lambda f: f["payload"]["ref"] == room)
    assert refused["payload"]["code"] == "forbidden"
    assert await online_in(gateway, room, viewer="henry") == []
    async with FrameClient(f"{gateway.ws_url}/chat/{room}?token={mint('henry')}") as henry:
        await joined(henry, room, "henry")
        assert await online_in(gateway, room, viewer="henry") == ["henry"]


# --- limits -----------------------------------------------------------------------------------


async def test_too_many_connections_of_one_user_are_closed_with_1013(
    gateway: ServiceHandle,
) -> None:
    user = f"ivan-{secrets.token_hex(3)}"
    url = f"{gateway.ws_url}/ws?token={mint(user)}"
    async with FrameClient(url) as first, FrameClient(url) as second:
        await first.wait_for("notification")
        await second.wait_for("notification")
        async with connect(url, open_timeout=10) as third:
            with pytest.raises(ConnectionClosed) as closed:
                await read_until_closed(third)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1013
        async with FrameClient(f"{gateway.ws_url}/ws?token={mint('judy')}") as other:
            await other.wait_for("notification")


async def test_a_second_stream_of_one_user_is_refused_with_429(gateway: ServiceHandle) -> None:
    value = mint(f"kate-{secrets.token_hex(3)}")
    url = f"{gateway.url}/api/notifications/stream?token={value}"
    open_before = (await gauges(gateway)).get("sse", 0)
    async with EventClient(url) as stream:
        await stream.wait_for("ready")
        async with httpx.AsyncClient() as http:
            second = await http.get(f"{gateway.url}/api/notifications/poll?token={value}")
        assert second.status_code == 429
    # the gateway noticed the first one go
    await until_connections_at_most(gateway.url, "sse", open_before)
    async with EventClient(url) as again:  # the first one's slot is free again
        await again.wait_for("ready")


async def test_a_body_over_the_limit_is_refused_with_413_and_stores_nothing(
    gateway: ServiceHandle,
) -> None:
    user = f"leo-{secrets.token_hex(3)}"
    body = {"userId": user, "type": "info", "title": "big", "message": "m" * BODY_LIMIT}
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        answer = await http.post(
            "/api/notifications/send", json=body, headers=service("notifications:send")
        )
        inbox = await http.get("/api/notifications", headers=bearer(user))
    assert answer.status_code == 413
    assert inbox.json()["notifications"] == []


async def test_a_user_flooding_over_several_connections_is_cut_off_and_others_still_chat(
    gateway: ServiceHandle,
) -> None:
    room = new_room()
    flooder = f"mike-{secrets.token_hex(3)}"
    url = f"{gateway.ws_url}/chat/{room}?token={mint(flooder)}"
    async with (
        FrameClient(f"{gateway.ws_url}/chat/{room}?token={mint('nina')}") as nina,
        FrameClient(f"{gateway.ws_url}/chat/{room}?token={mint('oscar')}") as oscar,
        FrameClient(url) as one,
        FrameClient(url) as two,
    ):
        for i in range(20):
            await (one if i % 2 else two).send({"type": "ping", "payload": i})
        async with asyncio.timeout(10):
            while not (one.closed.is_set() or two.closed.is_set()):
                await (one if not one.closed.is_set() else two).send({"type": "ping"})
                await asyncio.sleep(0.05)
        codes = {c.ws.close_code for c in (one, two) if c.closed.is_set()}
        assert codes == {4429}
        refused = [
            f
            for c in (one, two)
            for f in c.of_type("error")
            if f["payload"]["code"] == "rate_limited"
        ]
        assert refused, "the flood got error frames before the close"
        await nina.send({"type": "chat", "payload": {"content": "unaffected"}})
        await oscar.wait_for("chat", lambda f: f["payload"]["content"] == "unaffected")


# --- team dashboards --------------------------------------------------------------------------


async def test_a_team_dashboard_is_only_for_members_of_the_team(gateway: ServiceHandle) -> None:
    member = mint("pat", teams="ops")
    outsider = mint("quinn", teams="sales")
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        refused = await http.get(f"/api/dashboard/stream?team=ops&token={outsider}")
        async with http.stream("GET", f"/api/dashboard/stream?team=ops&token={member}") as allowed:
            assert allowed.status_code == 200
    assert refused.status_code == 403
    async with FrameClient(f"{gateway.ws_url}/ws?token={outsider}") as quinn:
        await quinn.send({"type": "join", "payload": {"room": "dashboard:ops"}})
        error = await quinn.wait_for("error", lambda f: f["payload"]["ref"] == "dashboard:ops")
    assert error["payload"]["code"] == "forbidden"
    url = f"{gateway.url}?token={outsider}"
    async with SocketIoRecorder(url, ["/metrics"], ["metrics-update", "error"]) as sio:
        ack = await sio.call("join-team", "ops", namespace="/metrics")
    assert ack["success"] is False
    assert sio.of("metrics-update") == []
    url = f"{gateway.url}?token={member}"
    async with SocketIoRecorder(url, ["/metrics"], ["metrics-update"]) as sio:
        ack = await sio.call("join-team", "ops", namespace="/metrics")
    assert ack == {"success": True, "team": "ops"}


async def test_socket_io_without_a_token_is_refused_at_the_handshake(
    gateway: ServiceHandle,
) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        polling = await http.get("/socket.io/?EIO=4&transport=polling")
        allowed = await http.get(f"/socket.io/?EIO=4&transport=polling&token={mint('rita')}")
    assert polling.status_code == 401
    assert allowed.status_code == 200
    assert await handshake_status(f"{gateway.ws_url}/socket.io/?EIO=4&transport=websocket") == 401


# --- request heads over the limits (issue 16, case 6) ------------------------------------------

LINE_LIMIT = 8192
"""The longest request line or header line, CRLF included (docs/protocol.md §1)."""


async def raw_upgrade(
    gateway: ServiceHandle, target: str, *headers: str, upgrade: bool = True
) -> tuple[int, bytes]:
    """The status and body of the answer to a WebSocket upgrade (or a plain GET) written as is,
    read to the end of the connection: within a few seconds, or the server left it open (the
    hang of issue 16, case 6)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    try:
        head = [f"GET {target} HTTP/1.1", f"Host: 127.0.0.1:{gateway.port}"]
        upgrade_lines = [f"{name}: {value}" for name, value in UPGRADE_HEADERS.items()]
        head.extend(upgrade_lines if upgrade else ["Connection: close"])
        writer.write(("\r\n".join([*head, *headers]) + "\r\n\r\n").encode())
        async with asyncio.timeout(5):
            answer = await reader.read()  # returns at the end of the connection only
    finally:
        writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def query_target(value: str) -> str:
    return f"/ws?token={value}"


def bearer_header(value: str) -> str:
    return f"Authorization: Bearer {value}"


async def an_ordinary_chat_is_acked(gateway: ServiceHandle) -> None:
    room = new_room()
    async with FrameClient(f"{gateway.ws_url}/chat/{room}?token={mint('carol')}") as carol:
        await joined(carol, room, "carol")
        await carol.send(chat("still served", client_msg_id="after-refusals"))
        await carol.wait_for("ack", acknowledges("after-refusals"))


@pytest.mark.parametrize("size", [8_192, 65_536])
@pytest.mark.parametrize("where", ["query", "header"])
async def test_a_handshake_with_a_token_over_the_limit_is_refused_at_once_and_closed(
    gateway: ServiceHandle, where: str, size: int
) -> None:
    value = mint("mallory", pad="x" * size)
    assert len(value) > size
    if where == "query":
        status, body = await raw_upgrade(gateway, query_target(value))
        assert (status, json.loads(body)["error"][:21]) == (414, "request line too long")
    else:
        status, body = await raw_upgrade(gateway, "/ws", bearer_header(value))
        assert (status, json.loads(body)["error"][:31]) == (431, "request header fields too large")
    if where == "query":  # plain HTTP: the same answer
        plain = await raw_upgrade(gateway, f"/api/notifications?token={value}", upgrade=False)
    else:
        plain = await raw_upgrade(
            gateway, "/api/notifications", bearer_header(value), upgrade=False
        )
    assert plain == (status, body)
    await an_ordinary_chat_is_acked(gateway)


@pytest.mark.parametrize("where", ["query", "header"])
async def test_a_token_up_to_the_limit_is_checked_as_usual_and_one_byte_more_is_not(
    gateway: ServiceHandle, where: str
) -> None:
    if where == "query":  # GET <target> HTTP/1.1 CRLF
        longest = LINE_LIMIT - len(f"GET {query_target('')} HTTP/1.1\r\n")
        status = await raw_upgrade(gateway, query_target("x" * longest))
        over = await raw_upgrade(gateway, query_target("x" * (longest + 1)))
    else:  # <name>: <value> CRLF
        longest = LINE_LIMIT - len(bearer_header("") + "\r\n")
        status = await raw_upgrade(gateway, "/ws", bearer_header("x" * longest))
        over = await raw_upgrade(gateway, "/ws", bearer_header("x" * (longest + 1)))
    assert status[0] == 401  # not a JWT: refused as any bad token is
    assert over[0] == (414 if where == "query" else 431)
    # A valid token near the limit is accepted.
    room = new_room()
    value = mint("dave", pad="x" * 5_700)
    assert 7_500 < len(value) <= LINE_LIMIT - len(f"GET /chat/{room}?token= HTTP/1.1\r\n")
    async with FrameClient(f"{gateway.ws_url}/chat/{room}?token={value}") as dave:
        await joined(dave, room, "dave")
        await dave.send(chat("a large token", client_msg_id="large"))
        await dave.wait_for("ack", acknowledges("large"))
