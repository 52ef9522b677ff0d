"""Resume: a client that missed messages gets exactly those, in order, before live ones, from
the stream and PostgreSQL alike, on any gateway, also after the one it used restarted."""

import asyncio
import secrets

import asyncpg
import httpx
import nats
import pytest
from switchboard_client import ChatConnection, ChatEvent, ChatMessage, Joined
from switchboard_client.transport import WireConnection, websocket_connector
from switchboard_contracts import streams, subjects
from switchboard_devstack import Stack
from switchboard_devstack.chatframes import acknowledges, join, new_room, seq_is
from switchboard_devstack.fixtures import stack_fixture, unthrottled
from switchboard_devstack.stores import Stores
from switchboard_devstack.wsclient import FrameClient, upgrade_over_http

pytestmark = pytest.mark.e2e

RESUME_MAX_MESSAGES = 30


def chat_seqs(client: FrameClient, room: str) -> list[int]:
    return [f["seq"] for f in client.of_type("chat") if f["room"] == room]


async def send_all(
    client: FrameClient, room: str, count: int, prefix: str = "m", pause: float = 0.0
) -> None:
    """Send ``count`` messages one after another, each acknowledged before the next."""
    for n in range(count):
        await asyncio.sleep(pause)
        cid = f"{prefix}-{secrets.token_hex(4)}"
        await client.send(
            {
                "type": "chat",
                "payload": {"content": f"{prefix}{n}", "room": room, "clientMsgId": cid},
            }
        )
        await client.wait_for("ack", acknowledges(cid))


stack = stack_fixture(
    "e2e-chat-resume",
    *("persistence", "notification", "chat", "gateway", "gateway-2"),
    env={"RESUME_MAX_MESSAGES": str(RESUME_MAX_MESSAGES)},
    env_of={"gateway": unthrottled(1000)},
)


async def test_join_with_since_replays_the_missed_messages_then_goes_live(stack: Stack) -> None:
    room = new_room()
    async with FrameClient(f"{stack['gateway'].ws_url}/ws?userId=alice") as alice:
        await alice.send(join(room))
        await send_all(alice, room, 5)
        async with FrameClient(f"{stack['gateway-2'].ws_url}/ws?userId=bob") as bob:
            await bob.send(join(room, since=2))
            replay = await bob.wait_for("replay")
            await send_all(alice, room, 1, prefix="live")
            await bob.wait_for("chat", seq_is(6))
    assert replay["payload"] == {"room": room, "recovered": True}
    assert chat_seqs(bob, room) == [3, 4, 5, 6]
    kinds = [f["type"] for f in bob.frames if f["type"] in ("chat", "replay")]
    assert kinds == ["chat", "chat", "chat", "replay", "chat"]
    assert [f["payload"]["content"] for f in bob.of_type("chat")] == ["m2", "m3", "m4", "live0"]


async def test_resumes_racing_live_messages_get_no_gap_and_no_duplicate(stack: Stack) -> None:
    room = new_room()
    total = RESUME_MAX_MESSAGES
    async with FrameClient(f"{stack['gateway'].ws_url}/ws?userId=writer") as writer:
        await writer.send(join(room))
        await send_all(writer, room, 5)
        sending = asyncio.create_task(send_all(writer, room, total - 5, prefix="live", pause=0.01))
        resumers = []
        for n in range(6):
            base = stack["gateway" if n % 2 else "gateway-2"].ws_url
            resumer = FrameClient(f"{base}/ws?userId=r{n}")
            await resumer.__aenter__()
            await resumer.send(join(room, since=n))
            resumers.append((n, resumer))
            await asyncio.sleep(0.05)
        await sending
        live_after_replay = []
        for since, resumer in resumers:
            await resumer.wait_for("chat", seq_is(total))
            await resumer.__aexit__(None, None, None)
            assert chat_seqs(resumer, room) == list(range(since + 1, total + 1)), since
            assert resumer.of_type("replay")[0]["payload"]["recovered"] is True
            kinds = [f["type"] for f in resumer.frames if f["type"] in ("chat", "replay")]
            live_after_replay.append(len(kinds) - 1 - kinds.index("replay"))
    assert any(live_after_replay)  # some joined while messages were flowing


async def test_the_compatible_endpoint_resumes_from_the_since_parameter(stack: Stack) -> None:
    room = new_room()
    base = stack["gateway"].ws_url
    async with FrameClient(f"{base}/ws?userId=alice") as alice:
        await alice.send(join(room))
        await send_all(alice, room, 3)
    async with FrameClient(f"{base}/chat/{room}?userId=bob&since=1") as bob:
        replay = await bob.wait_for("replay")
    assert replay["payload"]["recovered"] is True
    assert chat_seqs(bob, room) == [2, 3]
    kinds = [f["type"] for f in bob.frames if f["type"] in ("joined", "chat", "replay")]
    assert kinds == ["joined", "chat", "chat", "replay"]
    assert bob.of_type("joined")[0]["payload"] == {"room": room, "seq": 3}
    response = await upgrade_over_http(f"{stack['gateway'].url}/chat/{room}?since=last")
    assert response.status_code == 400
    assert "since" in response.json()["error"]


async def test_a_join_is_answered_with_the_seq_it_starts_after_before_anything_else(
    stack: Stack,
) -> None:
    room = new_room()
    async with FrameClient(f"{stack['gateway'].ws_url}/ws?userId=alice") as alice:
        await alice.send(join(room))
        await send_all(alice, room, 2)
        async with FrameClient(f"{stack['gateway-2'].ws_url}/ws?userId=bob") as bob:
            await bob.send(join(room))
            joined = await bob.wait_for("joined")
            await bob.wait_for("presence")
            await send_all(alice, room, 1, prefix="live")
            await bob.wait_for("chat", seq_is(3))
    assert joined["payload"] == {"room": room, "seq": 2}
    kinds = [f["type"] for f in bob.frames if f["type"] in ("joined", "presence", "chat")]
    assert kinds[:2] == ["joined", "presence"]
    assert chat_seqs(bob, room) == [3]


async def next_event(conn: ChatConnection, wanted: type[ChatEvent], seq: int = 0) -> ChatEvent:
    """The client's next event of type ``wanted`` (at ``seq`` or later, for messages)."""
    async with asyncio.timeout(15):
        async for event in conn.events():
            if isinstance(event, wanted) and getattr(event, "seq", seq) >= seq:
                return event
    raise AssertionError("the client's events ended")


async def test_a_client_that_saw_nothing_of_a_room_resumes_from_its_join(stack: Stack) -> None:
    """The connection drops before any message of the room reached it: back, it gets what was
    sent while it was away (its join's ``seq`` is its resume point), not only what comes next."""
    room = new_room()
    sockets: list[WireConnection] = []
    back = asyncio.Event()

    async def connector(url: str) -> WireConnection:
        sockets.append(await websocket_connector(url))
        return sockets[-1]

    async def away(_delay: float) -> None:  # the reconnect waits until the test says
        await back.wait()

    async with FrameClient(f"{stack['gateway'].ws_url}/ws?userId=alice") as alice:
        await alice.send(join(room))
        await send_all(alice, room, 2)
        reader = ChatConnection(
            stack["gateway-2"].ws_url, "bob", [room], connector=connector, sleep=away
        )
        async with reader:
            joined = await next_event(reader, Joined)
            await sockets[0].close()
            await send_all(alice, room, 3, prefix="away")
            back.set()
            await next_event(reader, ChatMessage, seq=5)
    assert joined == Joined(room, 2)
    assert len(sockets) == 2
    assert [m.seq for m in reader.messages] == [3, 4, 5]


async def test_a_cursor_the_room_never_reached_cannot_be_recovered(stack: Stack) -> None:
    room = new_room()
    async with FrameClient(f"{stack['gateway'].ws_url}/ws?userId=alice") as alice:
        await alice.send(join(room))
        await send_all(alice, room, 2)
        async with FrameClient(f"{stack['gateway-2'].ws_url}/ws?userId=bob") as bob:
            await bob.send(join(room, since=99))
            replay = await bob.wait_for("replay")
            await send_all(alice, room, 1)
            await bob.wait_for("chat", seq_is(3))  # live messages still come
    assert replay["payload"] == {"room": room, "recovered": False}
    assert chat_seqs(bob, room) == [3]


async def test_a_gap_longer_than_the_replay_limit_is_not_recovered(stack: Stack) -> None:
    room = new_room()
    async with FrameClient(f"{stack['gateway'].ws_url}/ws?userId=alice") as alice:
        await alice.send(join(room))
        await send_all(alice, room, RESUME_MAX_MESSAGES + 1)
        async with FrameClient(f"{stack['gateway'].ws_url}/ws?userId=bob") as bob:
            await bob.send(join(room, since=0))
            replay = await bob.wait_for("replay")
            await bob.send(join(room + "x", since=0))  # an empty room: nothing missed
            empty = await bob.wait_for("replay", lambda f: f["room"] == room + "x")
    assert replay["payload"]["recovered"] is False
    assert chat_seqs(bob, room) == []
    assert empty["payload"]["recovered"] is True


async def test_history_and_resume_read_postgresql_below_the_stream_seamlessly(
    stack: Stack, stores: Stores
) -> None:
    room = new_room()
    async with FrameClient(f"{stack['gateway'].ws_url}/ws?userId=alice") as alice:
        await alice.send(join(room))
        await send_all(alice, room, 10)
    database = await asyncpg.connect(stores.database_url)
    try:
        async with asyncio.timeout(15):
            while (  # noqa: ASYNC110 (polling the database until persistence wrote them)
                await database.fetchval("SELECT count(*) FROM chat_messages WHERE room = $1", room)
                < 10
            ):
                await asyncio.sleep(0.1)
    finally:
        await database.close()
    bus = await nats.connect(stores.nats_url)
    try:  # as if messages 1-5 had aged out of the stream
        await bus.jetstream().purge_stream(
            streams.CHAT.name, subject=subjects.chat_room(room), keep=5
        )
    finally:
        await bus.close()

    pages = []
    async with httpx.AsyncClient(base_url=stack["gateway-2"].url, timeout=10) as http:
        before = ""
        while True:
            page = (await http.get(f"/api/rooms/{room}/messages?limit=4{before}")).json()
            pages.append([m["seq"] for m in page["messages"]])
            if not page["hasMore"]:
                break
            before = f"&before={page['messages'][-1]['seq']}"
    assert pages == [[10, 9, 8, 7], [6, 5, 4, 3], [2, 1]]

    async with FrameClient(f"{stack['gateway-2'].ws_url}/ws?userId=bob") as bob:
        await bob.send(join(room, since=2))
        replay = await bob.wait_for("replay")
        await bob.send({"type": "history", "payload": {"room": room, "before": 8, "limit": 5}})
        history = await bob.wait_for("history")
    assert replay["payload"]["recovered"] is True
    assert chat_seqs(bob, room) == list(range(3, 11))
    assert [f["payload"]["content"] for f in bob.of_type("chat")] == [f"m{n}" for n in range(2, 10)]
    assert [m["seq"] for m in history["payload"]["messages"]] == [7, 6, 5, 4, 3]
    assert history["payload"]["hasMore"] is True


async def test_a_client_resumes_on_its_restarted_gateway_without_loss(stack: Stack) -> None:
    """Runs last in this module: it restarts a gateway."""
    room = new_room()
    restarting = stack["gateway"]
    async with FrameClient(f"{stack['gateway-2'].ws_url}/ws?userId=alice") as alice:
        await alice.send(join(room))
        bob = FrameClient(f"{restarting.ws_url}/ws?userId=bob")
        await bob.__aenter__()
        await bob.send(join(room))
        await bob.wait_for("presence")
        await send_all(alice, room, 3)
        await bob.wait_for("chat", seq_is(3))
        last_seen = chat_seqs(bob, room)[-1]

        restarting.stop()  # SIGTERM: the gateway drains, telling clients 1012
        await asyncio.wait_for(bob.closed.wait(), timeout=10)
        assert bob.ws.close_code == 1012
        await send_all(alice, room, 3, prefix="missed")
        restarting.start()
        restarting.wait_ready()

        async with FrameClient(f"{restarting.ws_url}/ws?userId=bob") as again:
            await again.send(join(room, since=last_seen))
            replay = await again.wait_for("replay")
            await send_all(alice, room, 1, prefix="after")
            await again.wait_for("chat", seq_is(7))
    assert replay["payload"]["recovered"] is True
    assert chat_seqs(again, room) == [4, 5, 6, 7]
