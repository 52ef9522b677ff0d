"""Presence and typing across gateway processes: one entry per user, coalesced, truncated,
expiring when a gateway is killed, and connections that stop answering pings leaving.

Two chat instances run, as they would in production: each publishes snapshots, and gateways
forward only the newest, so clients see no duplicates.
"""

import asyncio
import contextlib
import time

import httpx
import pytest
from switchboard_devstack import Stack
from switchboard_devstack.chatframes import after_now, new_room, online, presence_of
from switchboard_devstack.fixtures import stack_fixture
from switchboard_devstack.wsclient import Frame, FrameClient

pytestmark = pytest.mark.e2e

MAX_LISTED = 5
COALESCE_SECONDS = 0.25
CHAT_INSTANCES = 2
PRESENCE_TTL_SECONDS = 15.0  # the default


def latest_presence(client: FrameClient) -> Frame:
    return client.of_type("presence")[-1]


PRESENCE_ENV = {
    "PRESENCE_MAX_LISTED": str(MAX_LISTED),
    "PRESENCE_COALESCE_SECONDS": str(COALESCE_SECONDS),
}

# every chat instance publishes; gateways keep the newest
stack = stack_fixture(
    "e2e-chat-presence",
    *("persistence", "notification", "chat", "chat-2"),
    *("gateway", "gateway-2", "gateway-doomed", "gateway-pings"),
    env_of={
        "chat": PRESENCE_ENV,
        "chat-2": PRESENCE_ENV,
        "gateway-pings": {"WS_PING_INTERVAL_SECONDS": "1", "WS_PING_TIMEOUT_SECONDS": "1"},
    },
)


async def test_a_user_with_tabs_on_two_gateways_is_one_entry_until_the_last_tab_closes(
    stack: Stack,
) -> None:
    room = new_room()
    one, two = stack["gateway"].ws_url, stack["gateway-2"].ws_url
    async with FrameClient(f"{one}/chat/{room}?userId=watcher") as watcher:
        async with FrameClient(f"{one}/chat/{room}?userId=bob") as tab1:
            async with FrameClient(f"{two}/chat/{room}?userId=bob") as tab2:
                await tab2.wait_for("presence", presence_of({"watcher", "bob"}))
                await watcher.wait_for("presence", presence_of({"watcher", "bob"}))
                assert latest_presence(watcher)["payload"]["count"] == 2
            await tab1.send({"type": "ping"})  # the first tab still counts
            await tab1.wait_for("pong")
            assert online(latest_presence(watcher)) == {"watcher", "bob"}
        await watcher.wait_for("presence", after_now(watcher, presence_of({"watcher"})))


async def test_metadata_of_tabs_on_different_gateways_merges_latest_first(stack: Stack) -> None:
    room = new_room()
    one, two = stack["gateway"].ws_url, stack["gateway-2"].ws_url
    async with (
        FrameClient(f"{one}/chat/{room}?userId=bob") as phone,
        FrameClient(f"{two}/chat/{room}?userId=bob") as laptop,
    ):
        await phone.send({"type": "presence", "payload": {"status": "away", "device": "phone"}})
        await laptop.wait_for("presence", lambda f: "device" in f["payload"]["onlineUsers"][0])
        await laptop.send({"type": "presence", "payload": {"status": "busy"}})
        seen = await phone.wait_for(
            "presence", lambda f: f["payload"]["onlineUsers"][0].get("status") == "busy"
        )
    [bob] = seen["payload"]["onlineUsers"]
    assert (bob["status"], bob["device"]) == ("busy", "phone")


async def test_a_burst_of_joins_is_coalesced_into_few_presence_frames(stack: Stack) -> None:
    room = new_room()
    gateways = [stack["gateway"].ws_url, stack["gateway-2"].ws_url]
    async with contextlib.AsyncExitStack() as clients:
        watcher = await clients.enter_async_context(
            FrameClient(f"{gateways[0]}/chat/{room}?userId=watcher")
        )
        await watcher.wait_for("presence")
        before = len(watcher.of_type("presence"))
        started = time.monotonic()
        await asyncio.gather(
            *(
                clients.enter_async_context(
                    FrameClient(f"{gateways[n % 2]}/chat/{room}?userId=u{n}")
                )
                for n in range(30)
            )
        )
        final = await watcher.wait_for("presence", lambda f: f["payload"]["count"] == 31)
        elapsed = time.monotonic() - started
    frames = len(watcher.of_type("presence")) - before
    assert frames < 30
    # at most one per interval and chat instance, and the edges
    assert frames <= CHAT_INSTANCES * (elapsed / COALESCE_SECONDS + 2)
    assert len(final["payload"]["onlineUsers"]) == MAX_LISTED


async def test_a_large_room_counts_everyone_and_lists_a_few(stack: Stack) -> None:
    room = new_room()
    one = stack["gateway"].ws_url
    async with contextlib.AsyncExitStack() as clients:
        for n in range(MAX_LISTED + 2):
            client = await clients.enter_async_context(
                FrameClient(f"{one}/chat/{room}?userId=u{n}")
            )
        frame = await client.wait_for("presence", lambda f: f["payload"]["count"] == MAX_LISTED + 2)
        # Any chat instance answers; the one asked may not have applied the last join yet.
        async with (
            httpx.AsyncClient(base_url=stack["gateway-2"].url, timeout=10) as http,
            asyncio.timeout(10),
        ):
            while (  # noqa: ASYNC110 (polling an HTTP endpoint)
                snapshot := (await http.get(f"/api/rooms/{room}/presence")).json()
            )["count"] != MAX_LISTED + 2:
                await asyncio.sleep(0.1)
    assert frame["payload"]["truncated"] is True
    assert [u["userId"] for u in frame["payload"]["onlineUsers"]] == [
        f"u{n}" for n in range(MAX_LISTED)
    ]  # the earliest connected
    assert snapshot["count"] == MAX_LISTED + 2
    assert snapshot["onlineUsers"] == frame["payload"]["onlineUsers"]
    assert snapshot["room"] == room


async def test_the_presence_endpoint_of_an_empty_room(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack["gateway"].url, timeout=10) as http:
        response = await http.get(f"/api/rooms/{new_room()}/presence")
    assert response.status_code == 200
    assert (response.json()["count"], response.json()["onlineUsers"]) == (0, [])


async def test_typing_reaches_other_members_once_and_clears_when_the_typer_goes_quiet(
    stack: Stack,
) -> None:
    room = new_room()
    async with (
        FrameClient(f"{stack['gateway'].ws_url}/chat/{room}?userId=alice") as alice,
        FrameClient(f"{stack['gateway-2'].ws_url}/chat/{room}?userId=bob") as bob,
    ):
        await bob.wait_for("presence", presence_of({"alice", "bob"}))
        for _ in range(10):
            await alice.send({"type": "typing", "payload": {"isTyping": True}})
        started = time.monotonic()
        await bob.wait_for("typing", lambda f: f["payload"]["isTyping"])
        cleared = await bob.wait_for("typing", lambda f: not f["payload"]["isTyping"], timeout=15)
        quiet_for = time.monotonic() - started
    assert cleared["payload"]["userId"] == "alice"
    assert len(bob.of_type("typing")) == 2  # one "typing", one "stopped"
    assert 3.5 < quiet_for < 10  # the default: cleared 5 s after the last "typing"
    assert not alice.of_type("typing")


async def test_typing_clears_when_the_typer_disconnects(stack: Stack) -> None:
    room = new_room()
    async with FrameClient(f"{stack['gateway-2'].ws_url}/chat/{room}?userId=bob") as bob:
        async with FrameClient(f"{stack['gateway'].ws_url}/chat/{room}?userId=alice") as alice:
            await alice.send({"type": "typing", "payload": {"isTyping": True}})
            await bob.wait_for("typing", lambda f: f["payload"]["isTyping"])
        stopped = await bob.wait_for("typing", lambda f: not f["payload"]["isTyping"], timeout=2)
    assert stopped["payload"]["userId"] == "alice"


async def test_a_member_joining_while_someone_types_is_told(stack: Stack) -> None:
    room = new_room()
    base = stack["gateway"].ws_url
    async with (
        FrameClient(f"{base}/chat/{room}?userId=alice") as alice,
        FrameClient(f"{base}/chat/{room}?userId=bob") as bob,
    ):
        await alice.send({"type": "typing", "payload": {"isTyping": True}})
        await bob.wait_for("typing")
        async with FrameClient(f"{base}/chat/{room}?userId=carol") as carol:
            told = await carol.wait_for("typing")
    assert told["payload"] == {"userId": "alice", "isTyping": True}


async def test_a_connection_that_stops_answering_pings_is_closed_and_leaves(stack: Stack) -> None:
    room = new_room()
    async with (
        FrameClient(f"{stack['gateway'].ws_url}/chat/{room}?userId=watcher") as watcher,
        FrameClient(f"{stack['gateway-pings'].ws_url}/chat/{room}?userId=sleeper") as sleeper,
    ):
        await watcher.wait_for("presence", presence_of({"watcher", "sleeper"}))
        sleeper.ws.transport.pause_reading()  # reads nothing more, so answers no ping
        started = time.monotonic()
        await watcher.wait_for("presence", after_now(watcher, presence_of({"watcher"})), timeout=10)
        assert time.monotonic() - started < 5  # ping every 1 s, pong due within 1 s
        sleeper.ws.transport.resume_reading()
        await asyncio.wait_for(sleeper.closed.wait(), timeout=10)


async def test_presence_of_a_killed_gateway_expires_on_its_own(stack: Stack) -> None:
    """Runs last in this module: it kills a gateway no other test uses."""
    room = new_room()
    async with FrameClient(f"{stack['gateway'].ws_url}/chat/{room}?userId=watcher") as watcher:
        doomed = FrameClient(f"{stack['gateway-doomed'].ws_url}/chat/{room}?userId=ghost")
        await doomed.__aenter__()
        await watcher.wait_for("presence", presence_of({"watcher", "ghost"}))
        stack["gateway-doomed"].kill()  # SIGKILL: no goodbye, the heartbeat just stops
        killed = time.monotonic()
        await watcher.wait_for(
            "presence",
            after_now(watcher, presence_of({"watcher"})),
            timeout=PRESENCE_TTL_SECONDS + 10,
        )
        expired_after = time.monotonic() - killed
        await asyncio.wait_for(doomed.closed.wait(), timeout=10)
    assert expired_after <= PRESENCE_TTL_SECONDS + 2
