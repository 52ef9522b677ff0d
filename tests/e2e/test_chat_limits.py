"""Limits and close codes: a slow reader is cut off (1013) without slowing the others and
resumes; oversized frames (1009), floods (4429) and the connection limit (1013)."""

import asyncio

import pytest
from switchboard_devstack import Stack
from switchboard_devstack.chatframes import join, new_room, online, seq_is
from switchboard_devstack.fixtures import stack_fixture, unthrottled
from switchboard_devstack.scrape import until_connections_at_most
from switchboard_devstack.wsclient import FrameClient, SlowReader

pytestmark = pytest.mark.e2e

OUTBOX_FRAMES = 50
BATCH = 100
MAX_MESSAGES = 4000  # the kernel buffers a few MB for the slow reader before the gateway sees it


stack = stack_fixture(
    "e2e-chat-limits",
    *("persistence", "notification", "chat", "gateway", "gateway-small"),
    env_of={
        "gateway": {
            "OUTBOX_FRAMES": str(OUTBOX_FRAMES),
            "RESUME_MAX_MESSAGES": str(MAX_MESSAGES),
            **unthrottled(10000),
        },
        "gateway-small": {
            "MAX_CONNECTIONS": "2",
            "CLIENT_FRAMES_PER_SECOND": "5",
            "CLIENT_FRAME_BURST": "5",
            "CLIENT_RATE_STRIKES": "10",
        },
    },
)


async def test_a_slow_reader_is_cut_off_while_fast_readers_get_everything(stack: Stack) -> None:
    room = new_room()
    base = stack["gateway"].ws_url
    content = "x" * 4990
    async with (
        FrameClient(f"{base}/ws?userId=writer") as writer,
        FrameClient(f"{base}/chat/{room}?userId=fast1") as fast1,
        FrameClient(f"{base}/chat/{room}?userId=fast2") as fast2,
        SlowReader(f"{base}/chat/{room}?userId=slow") as slow,
    ):
        await writer.send(join(room))
        await slow.wait_for("presence", lambda f: f["payload"]["count"] == 4)
        slow.ws.transport.pause_reading()
        sent = 0
        while not any(online(f) == {"writer", "fast1", "fast2"} for f in fast1.of_type("presence")):
            assert sent < MAX_MESSAGES, "the slow reader was never cut off"
            for n in range(sent, sent + BATCH):
                payload = {"content": f"{n} {content}", "room": room}
                await writer.send({"type": "chat", "payload": payload})
            sent += BATCH
            await fast1.wait_for("chat", seq_is(sent), timeout=60)
        for fast in (fast1, fast2):
            await fast.wait_for("chat", seq_is(sent), timeout=60)
        slow.ws.transport.resume_reading()
        await asyncio.wait_for(slow.closed.wait(), timeout=30)
        assert slow.ws.close_code == 1013
        last_seen = max((f["seq"] for f in slow.of_type("chat")), default=0)
        assert last_seen < sent
        for fast in (fast1, fast2):
            assert [f["seq"] for f in fast.of_type("chat")] == list(range(1, sent + 1))

    async with FrameClient(f"{base}/chat/{room}?userId=slow&since={last_seen}") as again:
        await again.wait_for("replay", timeout=30)
    assert [f["seq"] for f in again.of_type("chat")] == list(range(last_seen + 1, sent + 1))
    assert again.of_type("replay")[0]["payload"]["recovered"] is True


async def test_a_frame_over_64_kib_closes_the_connection_with_1009(stack: Stack) -> None:
    async with FrameClient(f"{stack['gateway'].ws_url}/ws?userId=alice") as alice:
        await alice.wait_for("notification")
        await alice.send({"type": "chat", "payload": {"content": "x" * (64 * 1024)}})
        await asyncio.wait_for(alice.closed.wait(), timeout=10)
    assert alice.ws.close_code == 1009


async def test_a_flooding_client_gets_errors_then_4429(stack: Stack) -> None:
    async with FrameClient(f"{stack['gateway-small'].ws_url}/ws?userId=flood") as flood:
        await flood.wait_for("notification")
        for n in range(100):
            if flood.closed.is_set():
                break
            await flood.send({"type": "ping", "n": n})
        await asyncio.wait_for(flood.closed.wait(), timeout=10)
    assert flood.ws.close_code == 4429
    assert flood.of_type("error")[0]["payload"]["code"] == "rate_limited"
    assert len(flood.of_type("pong")) <= 6


async def test_connections_over_the_limit_are_closed_with_1013(stack: Stack) -> None:
    base = stack["gateway-small"].ws_url
    # the flood's slot is free again
    await until_connections_at_most(stack["gateway-small"].url, "websocket", 0)
    async with (
        FrameClient(f"{base}/ws?userId=a") as first,
        FrameClient(f"{base}/ws?userId=b") as second,
    ):
        await first.wait_for("notification")
        await second.wait_for("notification")
        async with FrameClient(f"{base}/ws?userId=c") as third:
            await asyncio.wait_for(third.closed.wait(), timeout=10)
        assert third.ws.close_code == 1013
        assert not third.frames
        await first.send({"type": "ping"})
        await first.wait_for("pong")
    await until_connections_at_most(stack["gateway-small"].url, "websocket", 0)
    async with FrameClient(f"{base}/ws?userId=d") as later:  # room again once they left
        await later.wait_for("notification")
