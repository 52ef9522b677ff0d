"""The first real path, driven as a client would: WebSocket in, chat frames out, history over HTTP.

Every test runs the five services as separate processes against real NATS and PostgreSQL.
"""

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from switchboard_devstack import NatsServer, PostgresServer, Stack
from switchboard_devstack.chatframes import (
    acknowledges,
    chat,
    history,
    joined,
    new_room,
    stored_history,
)
from switchboard_devstack.fixtures import ALL_SERVICES, module_stack
from switchboard_devstack.stack import ServiceHandle
from switchboard_devstack.stores import Stores, scratch_dir
from switchboard_devstack.wsclient import FrameClient, upgrade_over_http

pytestmark = pytest.mark.e2e


Gateways = Mapping[str, "RunningGateway | ServiceHandle"]


@dataclass(frozen=True)
class RunningGateway:
    url: str

    @property
    def ws_url(self) -> str:
        return "ws" + self.url.removeprefix("http")


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest) -> Iterator[Mapping[str, RunningGateway | ServiceHandle]]:
    """Two gateways: those of a running system named in SWITCHBOARD_E2E_GATEWAYS (for example
    ``http://localhost:8080`` for ``make dev``; one URL serves as both), or a stack of our own."""
    external = os.environ.get("SWITCHBOARD_E2E_GATEWAYS")
    if external:
        urls = [url.strip().rstrip("/") for url in external.split(",")]
        yield {"gateway": RunningGateway(urls[0]), "gateway-2": RunningGateway(urls[-1])}
        return
    yield from own_stack(request.getfixturevalue("stores"))


def own_stack(stores: Stores) -> Iterator[dict[str, ServiceHandle]]:
    with module_stack(stores, "e2e-walking-skeleton", *ALL_SERVICES, "gateway-2") as stack:
        yield stack.services


async def test_two_clients_in_a_room_both_receive_the_message_and_the_sender_its_ack(
    stack: Gateways,
) -> None:
    room = new_room()
    base = stack["gateway"].ws_url
    async with (
        FrameClient(f"{base}/chat/{room}?userId=alice") as alice,
        FrameClient(f"{base}/chat/{room}?userId=bob") as bob,
    ):
        connected = await alice.wait_for("notification")
        assert connected["payload"]["message"] == "Connected successfully"
        await joined(alice, room, "alice")
        await joined(bob, room, "bob")
        await alice.send(chat("hello <3", client_msg_id="c-1"))
        ack = await alice.wait_for("ack")
        at_alice = await alice.wait_for("chat")
        at_bob = await bob.wait_for("chat")
    assert at_alice == at_bob
    assert at_bob["payload"]["content"] == "hello <3"
    assert at_bob["senderId"] == "alice"
    assert at_bob["seq"] == 1
    assert isinstance(at_bob["id"], str)
    assert ack["payload"] == {"clientMsgId": "c-1", "id": at_bob["id"], "seq": 1, "room": room}


async def test_sender_id_is_the_connection_user_not_what_the_frame_claims(stack: Gateways) -> None:
    room = new_room()
    async with FrameClient(f"{stack['gateway'].ws_url}/chat/{room}?userId=alice") as alice:
        await alice.send({"type": "chat", "payload": {"content": "hi"}, "senderId": "mallory"})
        frame = await alice.wait_for("chat")
    assert frame["senderId"] == frame["payload"]["senderId"] == "alice"


async def test_messages_cross_between_two_gateways(stack: Gateways) -> None:
    room = new_room()
    async with (
        FrameClient(f"{stack['gateway'].ws_url}/chat/{room}?userId=alice") as alice,
        FrameClient(f"{stack['gateway-2'].ws_url}/chat/{room}?userId=bob") as bob,
    ):
        await joined(alice, room, "alice")
        await joined(bob, room, "bob")  # on gateway-2: its room subscription is open
        await alice.send(chat("from gateway 1"))
        await bob.send(chat("from gateway 2"))
        for client in (alice, bob):
            await client.wait_for("chat", lambda f: f["payload"]["content"] == "from gateway 1")
            await client.wait_for("chat", lambda f: f["payload"]["content"] == "from gateway 2")
    assert sorted(f["seq"] for f in bob.of_type("chat")) == [1, 2]


async def test_history_returns_stored_messages_newest_first(stack: Gateways) -> None:
    room = new_room()
    async with FrameClient(f"{stack['gateway'].ws_url}/chat/{room}?userId=alice") as alice:
        for n in range(3):
            await alice.send(chat(f"m{n}", client_msg_id=f"c{n}"))
            # one at a time, so that the order sent is the order stored
            await alice.wait_for("ack", where=acknowledges(f"c{n}"))
    messages = await stored_history(stack["gateway-2"].url, room, 3)
    assert [m["payload"]["content"] for m in messages] == ["m2", "m1", "m0"]
    assert [m["seq"] for m in messages] == [3, 2, 1]


async def test_unparsable_json_gets_the_compatible_error_and_the_connection_stays_open(
    stack: Gateways,
) -> None:
    room = new_room()
    async with FrameClient(f"{stack['gateway'].ws_url}/chat/{room}?userId=alice") as alice:
        await alice.send("this is not json")
        error = await alice.wait_for("error")
        compatible = await alice.wait_for("notification", lambda f: "error" in f["payload"])
        await alice.send(chat("still here"))
        await alice.wait_for("ack")
    assert error["payload"]["code"] == "invalid_json"
    assert compatible["payload"] == {"error": "Invalid message format"}


@pytest.mark.parametrize(
    ("content", "code", "named"),
    [("   ", "invalid_content", "empty"), ("x" * 5001, "content_too_long", "5000")],
    ids=["empty", "5001-characters"],
)
async def test_content_out_of_bounds_gets_an_error_naming_the_limit_and_nothing_is_stored(
    stack: Gateways, content: str, code: str, named: str
) -> None:
    room = new_room()
    async with FrameClient(f"{stack['gateway'].ws_url}/chat/{room}?userId=alice") as alice:
        await alice.send(chat(content, client_msg_id="bad"))
        error = await alice.wait_for("error")
        await alice.send(chat("x" * 5000, client_msg_id="good"))
        ack = await alice.wait_for("ack")
    assert error["payload"]["code"] == code
    assert named in error["payload"]["message"]
    assert error["payload"]["ref"] == "bad"
    assert ack["payload"]["seq"] == 1  # the refused one took no place in the room
    assert not alice.of_type("chat")[1:]


async def test_a_bad_room_id_is_refused_at_the_handshake(stack: Gateways) -> None:
    response = await upgrade_over_http(f"{stack['gateway'].url}/chat/bad.room")
    assert response.status_code == 400
    assert "room id" in response.json()["error"]


async def test_history_rejects_bad_parameters_naming_them(stack: Gateways) -> None:
    async with httpx.AsyncClient(base_url=stack["gateway"].url, timeout=10) as http:
        limit = await http.get(f"/api/rooms/{new_room()}/messages?limit=500")
        before = await http.get(f"/api/rooms/{new_room()}/messages?before=abc")
    assert limit.status_code == before.status_code == 400
    assert "limit" in limit.json()["error"]
    assert "before" in before.json()["error"]


async def test_a_message_survives_restarting_every_service_and_both_stores(
    artifacts_dir: Path, make_stack: Callable[..., Stack]
) -> None:
    """Own embedded stores, so that they too can be stopped and started on the same data."""
    nats = NatsServer(scratch_dir("sb-restart-nats-"), log_file=artifacts_dir / "nats.log")
    postgres = PostgresServer(
        scratch_dir("sb-restart-pg-") / "data", log_file=artifacts_dir / "postgres.log"
    )
    nats.start()
    postgres.start()
    try:
        postgres.create_database("switchboard")
        stack = make_stack(nats.url, postgres.dsn("switchboard"))
        stack.add_all()
        stack.start()
        room = new_room()
        async with FrameClient(f"{stack['gateway'].ws_url}/chat/{room}?userId=alice") as alice:
            await alice.send(chat("remember me", client_msg_id="c-1"))
            await alice.wait_for("ack")
        await stored_history(stack["gateway"].url, room, 1)

        stack.stop()
        nats.stop()
        postgres.stop()
        nats.start()
        postgres.start()
        stack.start()

        [message] = await history(stack["gateway"].url, room)
        assert message["payload"]["content"] == "remember me"
        async with FrameClient(f"{stack['gateway'].ws_url}/chat/{room}?userId=alice") as alice:
            await alice.send(chat("and me"))
            ack = await alice.wait_for("ack")
        assert ack["payload"]["seq"] == 2  # the room's sequence carries on
    finally:
        nats.stop()
        postgres.stop()


async def test_the_gateway_serves_the_demo_page(stack: Gateways) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(f"{stack['gateway'].url}/")
    assert response.status_code == 200
    assert "<title>Switchboard demo</title>" in response.text
