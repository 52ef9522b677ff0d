"""Erasing a user (docs/protocol.md §4, "Erase a user"): a service token erases everything
alice wrote; afterwards nothing of it is readable through any API, history page, replay,
versions request, PostgreSQL table or the CHAT stream itself; tombstones keep every seq, so
resume and history stay gap-free (served from the stream with holes, then from PostgreSQL once
the stream is purged); bob's messages are intact; a member connected during the erasure is told
(a ``delete`` frame per erased message); a rerun reports nothing new."""

import asyncio
import json
import secrets
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import nats
import pytest
from nats.js.errors import NotFoundError
from pydantic import ValidationError
from switchboard_contracts import ChatMessage, streams, subjects
from switchboard_devstack import Stack
from switchboard_devstack.chatframes import (
    acknowledges,
    after_now,
    connect_as,
    join,
    joined,
    new_room,
)
from switchboard_devstack.fixtures import stack_fixture
from switchboard_devstack.stores import Stores
from switchboard_devstack.tokens import auth_env, bearer, service
from switchboard_devstack.wsclient import Frame, FrameClient

pytestmark = pytest.mark.e2e

DURABLE = ("chat", "edit", "delete")
SECRET = "alice-secret"  # in every content alice writes, and in nothing else
ALICE = f"alice-{secrets.token_hex(3)}"  # her own: other modules' alices share the stores

stack = stack_fixture(
    "e2e-chat-erase",
    *("persistence", "notification", "chat", "gateway", "gateway-2"),
    env_of={"gateway": auth_env(), "gateway-2": auth_env()},
)


async def acked(client: FrameClient, type_: str, **payload: Any) -> Frame:
    client_msg_id = f"c-{secrets.token_hex(4)}"
    await client.send({"type": type_, "payload": {**payload, "clientMsgId": client_msg_id}})
    ack = await client.wait_for("ack", acknowledges(client_msg_id))
    answer: Frame = ack["payload"]
    return answer


async def erase(stack: Stack, gateway: str, user: str, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=stack[gateway].url, timeout=60) as http:
        return await http.post(f"/api/users/{user}/erase", headers=headers)


async def until_stored(database_url: str, ids: list[str], timeout: float = 15.0) -> None:
    """Wait until PostgreSQL holds every id (persistence writes after the ack)."""
    database = await asyncpg.connect(database_url)
    try:
        async with asyncio.timeout(timeout):
            while True:
                stored = await database.fetchval(
                    "SELECT count(*) FROM chat_messages WHERE id = ANY($1::text[])", ids
                )
                if stored == len(ids):
                    return
                await asyncio.sleep(0.05)
    finally:
        await database.close()


async def stream_events(nats_url: str) -> list[ChatMessage]:
    """Every room event the CHAT stream holds (every room's), read directly, one by one."""
    bus = await nats.connect(nats_url)
    found: list[ChatMessage] = []
    try:
        js = bus.jetstream()
        seq = (await js.stream_info(streams.CHAT.name)).state.first_seq
        while True:
            try:
                raw = await js.get_msg(
                    streams.CHAT.name, seq=seq, subject=subjects.CHAT_ROOM_ALL, next=True
                )
            except NotFoundError:
                break
            assert raw.seq is not None
            try:
                found.append(ChatMessage.decode(raw.data or b""))
            except ValidationError:  # another module's poison message: none of hers, either
                assert SECRET.encode() not in (raw.data or b"")
                assert ALICE.encode() not in (raw.data or b"")
            seq = raw.seq + 1
    finally:
        await bus.close()
    return found


async def replayed(stack: Stack, gateway: str, user: str, room: str, since: int = 0) -> list[Frame]:
    """What a client back with ``since`` gets replayed: the room's durable frames."""
    async with connect_as(stack, gateway, user) as client:
        await client.send(join(room, since=since))
        replay = await client.wait_for("replay", lambda f: f["payload"]["room"] == room)
        assert replay["payload"]["recovered"] is True
        return [f for f in client.frames if f["type"] in DURABLE and f.get("room") == room]


async def ws_history(stack: Stack, gateway: str, user: str, room: str) -> list[Frame]:
    async with connect_as(stack, gateway, user) as client:
        await client.send({"type": "history", "payload": {"room": room, "limit": 100}})
        page = await client.wait_for("history", lambda f: f["payload"]["room"] == room)
        messages: list[Frame] = page["payload"]["messages"]
        return messages


async def http_history(stack: Stack, gateway: str, room: str) -> list[Frame]:
    async with httpx.AsyncClient(base_url=stack[gateway].url, timeout=10) as http:
        response = await http.get(f"/api/rooms/{room}/messages?limit=100", headers=bearer("carol"))
    assert response.status_code == 200
    messages: list[Frame] = response.json()["messages"]
    return messages


def deletes(message_id: str) -> Callable[[Frame], bool]:
    return lambda frame: frame["payload"]["messageId"] == message_id


def gap_free(frames: list[Frame], last: int) -> None:
    assert sorted(f["seq"] for f in frames) == list(range(1, last + 1))


def nothing_of_alice(frames: list[Frame]) -> None:
    assert SECRET not in json.dumps(frames)
    for frame in frames:
        if frame.get("senderId") == ALICE and frame["type"] == "chat":
            assert frame["payload"]["content"] == ""
            assert frame["payload"]["deleted"] is True


async def everything_readable_is_clean(
    stack: Stack, stores: Stores, rooms: dict[str, int], bob_said: dict[int, str], first: str
) -> None:
    """Nothing of alice's readable anywhere; every seq there; bob's messages intact."""
    a = next(iter(rooms))
    for room, last in rooms.items():
        for gateway in ("gateway", "gateway-2"):
            frames = await replayed(stack, gateway, "dave", room)
            gap_free(frames, last)
            nothing_of_alice(frames)
        page = await http_history(stack, "gateway-2", room)
        gap_free(page, last)
        nothing_of_alice(page)
        page = await ws_history(stack, "gateway", "dave", room)
        gap_free(page, last)
        nothing_of_alice(page)
        if room == a:  # the first seq wanted is one of hers: a hole in the stream
            frames = await replayed(stack, "gateway-2", "dave", room, since=2)
            assert sorted(f["seq"] for f in frames) == list(range(3, last + 1))
            nothing_of_alice(frames)
            shown = {f["seq"]: f["payload"]["content"] for f in page if f["type"] == "chat"}
            assert {seq: shown[seq] for seq in bob_said} == bob_said
    async with connect_as(stack, "gateway", "dave") as dave:
        await dave.send({"type": "versions", "payload": {"room": a, "messageId": first}})
        versions = await dave.wait_for("versions")
    assert (versions["payload"]["versions"], versions["payload"]["deleted"]) == ([], True)


async def test_erasing_a_user_leaves_nothing_of_theirs_readable_and_every_seq_in_place(
    stack: Stack, stores: Stores
) -> None:
    a, b = new_room(), new_room()
    async with (
        connect_as(stack, "gateway", ALICE) as alice,
        connect_as(stack, "gateway-2", "bob", scope="rooms:moderate") as bob,
    ):
        for room in (a, b):
            await alice.send(join(room))
            await bob.send(join(room))
            await joined(bob, room, "bob")
        one = await acked(alice, "chat", room=a, content=f"{SECRET} one")  # a 1
        bob_one = await acked(bob, "chat", room=a, content="bob one")  # a 2
        two = await acked(alice, "chat", room=a, content=f"{SECRET} two")  # a 3
        await acked(alice, "edit", room=a, messageId=one["id"], content=f"{SECRET} one again")
        bob_two = await acked(bob, "chat", room=a, content="bob two")  # a 5
        # a moderator's edit of her message, quoting her: erased with it (a 6)
        await acked(bob, "edit", room=a, messageId=two["id"], content=f"bob: {SECRET} two")
        three = await acked(alice, "chat", room=b, content=f"{SECRET} three")  # b 1
        gone = await acked(alice, "chat", room=b, content=f"{SECRET} deleted by her")  # b 2
        await acked(alice, "delete", room=b, messageId=gone["id"])  # b 3
        await acked(bob, "chat", room=b, content="bob in b")  # b 4
        await acked(alice, "edit", room=b, messageId=three["id"], content=f"{SECRET} 3 again")
    await until_stored(stores.database_url, [one["id"], two["id"], three["id"], bob_two["id"]])

    async with connect_as(stack, "gateway-2", "carol") as carol:  # a member during the erasure
        await carol.send(join(a))
        await joined(carol, a, "carol")
        refused = await erase(stack, "gateway", ALICE, bearer("mallory"))
        assert refused.status_code == 403
        assert "users:erase" in refused.json()["error"]
        response = await erase(stack, "gateway", ALICE, service("users:erase"))
        assert response.status_code == 200, response.text
        for message in (one, two):
            await carol.wait_for("delete", deletes(message["id"]))
    report = response.json()
    assert report["userId"] == ALICE
    # a: messages 1 and 3, the edit at 4; b: messages 1 and 2 (her deletion is no edit), the edit
    assert report["rooms"] == {
        a: {"messages": 2, "edits": 1, "reactions": 0, "reads": 0},
        b: {"messages": 2, "edits": 1, "reactions": 0, "reads": 0},
    }
    # her 4 messages, 2 edits and her deletion, and bob's edit of her message; each room's
    # newest is the erasure's deletion
    assert (report["streamMessagesRemoved"], report["streamMessagesKept"]) == (8, 0)
    deletions = [f for f in carol.of_type("delete") if f["room"] == a]
    assert {f["payload"]["messageId"] for f in deletions} == {one["id"], two["id"]}
    assert {f["seq"] for f in deletions} == {7, 8}
    rooms = {a: 8, b: 6}  # b: 5 events, then the deletion of message 1 (2 was deleted already)

    in_stream = await stream_events(stores.nats_url)
    assert [m for m in in_stream if SECRET in m.content] == []
    assert [m for m in in_stream if m.room in (a, b) and m.sender_id == ALICE] == []
    assert {m.seq for m in in_stream if m.room == a} == {2, 5, 7, 8}  # holes where alice was
    database = await asyncpg.connect(stores.database_url)
    try:
        leaked = await database.fetchval(
            "SELECT count(*) FROM chat_messages WHERE content LIKE $1", f"%{SECRET}%"
        )
        versions = await database.fetchval(
            "SELECT count(*) FROM chat_message_versions WHERE content LIKE $1", f"%{SECRET}%"
        )
        tombstones = await database.fetch(
            "SELECT seq, content, deleted FROM chat_messages"
            " WHERE room = $1 AND sender_id = $2 AND kind = 'message' ORDER BY seq",
            a,
            ALICE,
        )
    finally:
        await database.close()
    assert (leaked, versions) == (0, 0)
    assert [tuple(t) for t in tombstones] == [(1, "", True), (3, "", True)]

    bob_said = {bob_one["seq"]: "bob one", bob_two["seq"]: "bob two"}
    await everything_readable_is_clean(stack, stores, rooms, bob_said, one["id"])

    again = await erase(stack, "gateway-2", ALICE, service("users:erase"))
    assert again.status_code == 200
    assert again.json() == {
        "userId": ALICE,
        "rooms": {},
        "streamMessagesRemoved": 0,
        "streamMessagesKept": 0,
    }

    async with connect_as(stack, "gateway", "bob") as bob:  # the rooms go on from their heads
        await bob.send(join(a))
        after = await acked(bob, "chat", room=a, content="bob after")
    assert after["seq"] == 9
    rooms[a] = 9
    bob_said[9] = "bob after"

    bus = await nats.connect(stores.nats_url)
    try:  # as if the rooms had aged out of the stream: only PostgreSQL has them
        for room in (a, b):
            await bus.jetstream().purge_stream(
                streams.CHAT.name, subject=subjects.chat_room(room), keep=1
            )
    finally:
        await bus.close()
    await everything_readable_is_clean(stack, stores, rooms, bob_said, one["id"])


async def test_erasing_needs_a_service_token_with_its_scope_and_a_user_id(stack: Stack) -> None:
    for headers, status in (
        ({}, 401),
        (bearer("mallory", scope="rooms:moderate"), 403),
        (service("notifications:send", "rooms:manage"), 403),
    ):
        refused = await erase(stack, "gateway-2", "bob", headers)
        assert refused.status_code == status
        assert refused.json()["error"]
    assert "users:erase" in refused.json()["error"]
    bad = await erase(stack, "gateway-2", "bob.smith", service("users:erase"))
    assert bad.status_code == 400
    assert bad.json()["field"] == "userId"


async def marked_read(client: FrameClient, user: str, room: str, seq: int) -> None:
    """Mark ``room`` read at ``seq`` (its head) and wait for the answer: the mark is stored.
    (The user's own mark at 0 came on joining: only a frame from now on at ``seq`` answers.)"""
    answer = after_now(
        client,
        lambda f: (
            f["room"] == room and f["payload"]["userId"] == user and f["payload"]["seq"] == seq
        ),
    )
    await client.send({"type": "read", "payload": {"room": room, "seq": seq}})
    await client.wait_for("read", answer)


async def test_erasing_a_user_takes_their_reactions_and_read_marks_off_every_room(
    stack: Stack, stores: Stores
) -> None:
    room, only_read = new_room(), new_room()
    reactor = f"alice-{secrets.token_hex(3)}"
    async with (
        connect_as(stack, "gateway", reactor) as alice,
        connect_as(stack, "gateway-2", "bob") as bob,
    ):
        for client in (alice, bob):
            await client.send(join(room))
            await client.send(join(only_read))
        for joined_room in (room, only_read):
            await joined(bob, joined_room, "bob")
            await joined(alice, joined_room, reactor)
        message = await acked(bob, "chat", room=room, content="react to me")
        await acked(bob, "chat", room=only_read, content="only read by her")
        await acked(alice, "react", room=room, messageId=message["id"], emoji="🦄")
        await acked(alice, "react", room=room, messageId=message["id"], emoji="👍")
        await acked(alice, "unreact", room=room, messageId=message["id"], emoji="👍")
        await acked(bob, "react", room=room, messageId=message["id"], emoji="👍")
        await marked_read(alice, reactor, room, 5)
        await marked_read(alice, reactor, only_read, 1)
    database = await asyncpg.connect(stores.database_url)
    try:
        for _ in range(150):  # persistence writes after the ack
            held = await database.fetchval(
                "SELECT count(*) FROM chat_reactions WHERE message_id = $1", message["id"]
            )
            if held == 3:
                break
            await asyncio.sleep(0.1)
        assert held == 3  # alice's unicorn, her taken-back thumb, bob's thumb
        response = await erase(stack, "gateway", reactor, service("users:erase"))
        assert response.status_code == 200, response.text
        assert response.json()["rooms"] == {
            room: {"messages": 0, "edits": 0, "reactions": 3, "reads": 1},
            only_read: {"messages": 0, "edits": 0, "reactions": 0, "reads": 1},
        }
        left = await database.fetch(
            "SELECT emoji, user_id FROM chat_reactions WHERE message_id = $1", message["id"]
        )
        events = await database.fetch(
            "SELECT content FROM chat_messages WHERE sender_id = $1", reactor
        )
        marks = await database.fetchval(
            "SELECT count(*) FROM room_reads WHERE user_id = $1", reactor
        )
    finally:
        await database.close()
    assert [tuple(r) for r in left] == [("👍", "bob")]
    assert [e["content"] for e in events] == ["", "", ""]
    assert marks == 0
    in_stream = await stream_events(stores.nats_url)
    assert message["id"] in {m.id for m in in_stream}  # the stream was read, bob's chat is there
    assert [m for m in in_stream if m.room == room and m.sender_id == reactor] == []
    for page in (
        await http_history(stack, "gateway", room),
        await ws_history(stack, "gateway-2", "bob", room),
    ):
        [shown] = [f for f in page if f["type"] == "chat"]
        assert shown["payload"]["reactions"] == [{"emoji": "👍", "count": 1, "users": ["bob"]}]
        # her events keep their places (and sender), as an erased message does: blank
        hers = [f for f in page if f.get("senderId") == reactor]
        assert sorted(f["type"] for f in hers) == ["react", "react", "unreact"]
        assert {f["payload"].get("emoji") for f in hers} == {""}
