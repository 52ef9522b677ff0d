"""Exactly once: a chat resent with the same clientMsgId (lost ack, reconnect, other gateway,
chat restart, after JetStream's duplicate window) is stored once, delivered once, acked alike."""

import asyncio
from collections.abc import Callable
from pathlib import Path

import asyncpg
import pytest
from switchboard_devstack import NatsServer, Stack
from switchboard_devstack.chatframes import chat, content_is, history, in_room, joined, new_room
from switchboard_devstack.fixtures import stack_fixture
from switchboard_devstack.stores import Stores, scratch_dir
from switchboard_devstack.wsclient import Frame, FrameClient

pytestmark = pytest.mark.e2e


async def two_acks(client: FrameClient) -> tuple[Frame, Frame]:
    first = await client.wait_for("ack")
    return first, await client.wait_for("ack", lambda frame: frame is not first)


async def stored_count(database_url: str, room: str) -> int:
    database = await asyncpg.connect(database_url)
    try:
        return int(
            await database.fetchval("SELECT count(*) FROM chat_messages WHERE room = $1", room)
        )
    finally:
        await database.close()


# chat-2: retries may reach another instance; notification owns NOTIFY, which persistence drains too
stack = stack_fixture(
    "e2e-chat-exactly-once", "persistence", "chat", "chat-2", "notification", "gateway", "gateway-2"
)


async def test_a_retry_on_the_same_connection_is_acked_alike_and_delivered_once(
    stack: Stack,
) -> None:
    room = new_room()
    base = stack["gateway"].ws_url
    async with (
        FrameClient(f"{base}/chat/{room}?userId=alice") as alice,
        FrameClient(f"{base}/chat/{room}?userId=bob") as bob,
    ):
        await joined(bob, room, "bob")  # a member before "once" is sent, or it may miss it
        await alice.send(chat("once", "c-1"))
        await alice.send(chat("once", "c-1"))  # the first ack was "lost"
        first, second = await two_acks(alice)
        await alice.send(chat("after"))
        await bob.wait_for("chat", content_is("after"))
    assert first["payload"] == second["payload"]
    assert [f["payload"]["content"] for f in bob.of_type("chat")] == ["once", "after"]
    assert [m["seq"] for m in await history(stack["gateway"].url, room)] == [2, 1]


async def test_a_retry_after_reconnecting_is_the_same_message(stack: Stack) -> None:
    room = new_room()
    base = stack["gateway"].ws_url
    async with FrameClient(f"{base}/chat/{room}?userId=bob") as bob:
        await joined(bob, room, "bob")  # a member before "hello" is sent, or it may miss it
        async with FrameClient(f"{base}/chat/{room}?userId=alice") as alice:
            await alice.send(chat("hello", "c-1"))
            original = await alice.wait_for("ack")
        async with FrameClient(f"{base}/chat/{room}?userId=alice") as alice:
            await alice.send(chat("hello", "c-1"))
            retried = await alice.wait_for("ack")
            await alice.send(chat("next"))
        await bob.wait_for("chat", content_is("next"))
    assert retried["payload"] == original["payload"]
    assert [f["seq"] for f in bob.of_type("chat")] == [1, 2]


async def test_retries_through_both_gateways_at_once_are_one_message(stack: Stack) -> None:
    room = new_room()
    async with (
        FrameClient(f"{stack['gateway'].ws_url}/chat/{room}?userId=alice") as tab1,
        FrameClient(f"{stack['gateway-2'].ws_url}/chat/{room}?userId=alice") as tab2,
    ):
        # both tabs in the room (their presence frame) before the race, or one may miss it
        await tab1.wait_for("presence")
        await tab2.wait_for("presence")
        await asyncio.gather(tab1.send(chat("racing", "c-1")), tab2.send(chat("racing", "c-1")))
        ack1, ack2 = await tab1.wait_for("ack"), await tab2.wait_for("ack")
        await tab1.send(chat("next"))
        await tab2.wait_for("chat", content_is("next"))
    assert ack1["payload"] == ack2["payload"]
    assert [f["payload"]["content"] for f in tab2.of_type("chat")] == ["racing", "next"]


async def test_the_same_client_msg_id_in_another_room_is_another_message(stack: Stack) -> None:
    rooms = [new_room(), new_room()]
    async with FrameClient(f"{stack['gateway'].ws_url}/ws?userId=alice") as alice:
        for room in rooms:
            await alice.send({"type": "join", "payload": {"room": room}})
            payload = {"content": "x", "clientMsgId": "c-1", "room": room}
            await alice.send({"type": "chat", "payload": payload})
            await alice.wait_for("ack", in_room(room))
    first, second = alice.of_type("ack")
    assert first["payload"]["id"] != second["payload"]["id"]


async def test_content_is_stored_as_typed_trimmed_without_control_characters(stack: Stack) -> None:
    room = new_room()
    async with FrameClient(f"{stack['gateway'].ws_url}/chat/{room}?userId=alice") as alice:
        await alice.send(
            {
                "type": "chat",
                "payload": {"content": "  <b>&amp;</b> <3\x07\x1b\n\tok  "},
                "senderId": "mallory",
            }
        )
        frame = await alice.wait_for("chat")
    assert frame["payload"]["content"] == "<b>&amp;</b> <3\n\tok"
    assert frame["senderId"] == "alice"


async def test_a_retry_after_chat_restarted_is_the_same_message(stack: Stack) -> None:
    room = new_room()
    base = stack["gateway"].ws_url
    async with FrameClient(f"{base}/chat/{room}?userId=alice") as alice:
        await alice.send(chat("before the restart", "c-1"))
        original = await alice.wait_for("ack")
    stack["chat"].stop()
    stack["chat"].start()
    stack["chat"].wait_ready()
    async with FrameClient(f"{base}/chat/{room}?userId=alice") as alice:
        await alice.send(chat("before the restart", "c-1"))
        retried = await alice.wait_for("ack")
    assert retried["payload"] == original["payload"]
    assert len(await history(stack["gateway"].url, room)) == 1


@pytest.mark.parametrize(
    ("first", "retry"),
    [(None, None), (1, 2)],
    ids=["attempts-unsaid", "attempt-1-then-2"],
)
async def test_a_retry_after_the_duplicate_window_is_found_in_postgresql(
    stores: Stores,
    artifacts_dir: Path,
    make_stack: Callable[..., Stack],
    first: int | None,
    retry: int | None,
) -> None:
    """A NATS of its own: the duplicate window is a setting of the whole CHAT stream. A first
    attempt that says so is not looked up; the resend, attempt 2 (or unsaid), is."""
    window = 1.0
    nats_server = NatsServer(scratch_dir("sb-window-nats-"), log_file=artifacts_dir / "nats.log")
    nats_server.start()
    try:
        stack = make_stack(nats_server.url, stores.database_url)
        stack.add("persistence")
        stack.add("chat", env={"DUPLICATE_WINDOW_SECONDS": str(window)})
        stack.add("notification")  # owns NOTIFY, which persistence drains too
        stack.add("gateway")
        stack.start()
        room = new_room()
        base = stack["gateway"].ws_url
        async with FrameClient(f"{base}/chat/{room}?userId=bob") as bob:
            await joined(bob, room, "bob")  # a member before the first send, or it may miss it
            async with FrameClient(f"{base}/chat/{room}?userId=alice") as alice:
                await alice.send(chat("late retry", "c-1", first))
                original = await alice.wait_for("ack")
                async with asyncio.timeout(15):
                    while await stored_count(stores.database_url, room) < 1:  # noqa: ASYNC110
                        await asyncio.sleep(0.1)
                await asyncio.sleep(window * 2)  # JetStream has forgotten the message id now
                await alice.send(chat("late retry", "c-1", retry))
                retried = await alice.wait_for("ack", lambda f: f is not original)
                await alice.send(chat("next"))
            await bob.wait_for("chat", content_is("next"))
        assert retried["payload"] == original["payload"]
        assert [f["seq"] for f in bob.of_type("chat")] == [1, 2]
    finally:
        nats_server.stop()
