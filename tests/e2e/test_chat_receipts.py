"""Read receipts and unread counts (docs/protocol.md §2, "Read receipts"): a member's mark,
stored in PostgreSQL once acknowledged, never moving back, reaching the room's other members
and the user's own connections on every gateway (coalesced), the same over WebSocket and HTTP;
unread counts on joining, after a reconnect with ``since``, and in the rooms list; refused to
a private room's non-members."""

import asyncio
from typing import Any

import asyncpg
import httpx
import pytest
from switchboard_client import ChatConnection
from switchboard_devstack import Stack
from switchboard_devstack.chatframes import acknowledges, after_now, join, joined, new_room
from switchboard_devstack.fixtures import stack_fixture
from switchboard_devstack.stores import Stores
from switchboard_devstack.tokens import auth_env, bearer, mint
from switchboard_devstack.wsclient import Frame, FrameClient

pytestmark = pytest.mark.e2e

HTTP_BURST = 20  # gateway-2's per-user limit, for the 429 test; far above what others send
stack = stack_fixture(
    "e2e-chat-receipts",
    *("persistence", "notification", "chat", "gateway", "gateway-2", "gateway-3"),
    env_of={
        "gateway-2": {"USER_FRAMES_PER_SECOND": "1", "USER_FRAME_BURST": str(HTTP_BURST)},
        "gateway-3": auth_env(),  # the user is the token's
    },
)


def connect(stack: Stack, gateway: str, user: str) -> FrameClient:
    return FrameClient(f"{stack[gateway].ws_url}/ws?userId={user}")


def http(stack: Stack, gateway: str = "gateway") -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=stack[gateway].url, timeout=10)


def read(room: str, seq: int) -> Frame:
    return {"type": "read", "payload": {"room": room, "seq": seq}}


def mark_of(room: str, user: str, seq: int | None = None) -> Any:
    """A ``read`` frame of ``user``'s mark in ``room`` (at ``seq``, when given); a user's
    sockets get their marks of every room."""
    return lambda f: (
        f["room"] == room and f["payload"]["userId"] == user and seq in (None, f["payload"]["seq"])
    )


async def say(client: FrameClient, room: str, *contents: str) -> list[int]:
    """Send chats from ``client`` in ``room``, each after the previous one's ack; their seqs."""
    seqs = []
    for content in contents:
        cmid = f"{content}-{room}"
        payload = {"room": room, "content": content, "clientMsgId": cmid}
        await client.send({"type": "chat", "payload": payload})
        ack = await client.wait_for("ack", acknowledges(cmid))
        seqs.append(ack["payload"]["seq"])
    return seqs


async def marked(client: FrameClient, room: str, user: str, seq: int, stored: int) -> Frame:
    """Send ``user``'s mark at ``seq``; the payload of the answer (``read`` at ``stored``)."""
    answer = after_now(client, mark_of(room, user, stored))
    await client.send(read(room, seq))
    frame = await client.wait_for("read", answer)
    payload: Frame = frame["payload"]
    return payload


async def rooms_of(stack: Stack, user: str, room: str) -> Frame:
    async with http(stack) as client:
        response = await client.get(f"/api/rooms?userId={user}")
    response.raise_for_status()
    [listed] = [r for r in response.json()["rooms"] if r["id"] == room]
    return listed  # type: ignore[no-any-return]


async def test_a_mark_reaches_a_member_on_another_gateway_and_the_users_other_connection(
    stack: Stack,
) -> None:
    room = new_room()
    async with (
        connect(stack, "gateway", "alice") as alice,
        connect(stack, "gateway-2", "alice") as alice_elsewhere,  # in no room
        connect(stack, "gateway-2", "bob") as bob,
    ):
        await alice.send(join(room))
        await bob.send(join(room))
        await joined(alice, room, "bob")
        seqs = await say(bob, room, "one", "two", "three")
        await alice.wait_for("chat", lambda f: f["seq"] == seqs[-1])
        answer = await marked(alice, room, "alice", seqs[1], seqs[1])
        seen_by_bob = await bob.wait_for("read", mark_of(room, "alice", seqs[1]))
        seen_elsewhere = await alice_elsewhere.wait_for("read", mark_of(room, "alice", seqs[1]))
    assert answer == {"userId": "alice", "seq": 2, "unreadCount": 1, "upto": 3}
    assert seen_by_bob["room"] == room
    assert seen_by_bob["payload"] == {"userId": "alice", "seq": 2}  # not alice's unread count
    assert seen_elsewhere["payload"] == answer
    assert not [f for f in alice.of_type("read") if f["payload"]["userId"] == "bob"]  # no mark


async def test_unread_counts_on_join_and_in_the_rooms_list_before_and_after_marking(
    stack: Stack,
) -> None:
    room = new_room()
    async with http(stack) as client:
        created = await client.post("/api/rooms?userId=bob", json={"id": room, "name": "Reads"})
        assert created.status_code == 201
    async with connect(stack, "gateway-2", "bob") as bob:
        await bob.send(join(room))
        await joined(bob, room, "bob")
        await say(bob, room, "a", "b", "c")
    before = await rooms_of(stack, "alice", room)
    async with connect(stack, "gateway", "alice") as alice:
        await alice.send(join(room))
        on_join = await alice.wait_for("read", mark_of(room, "alice"))
        await say(alice, room, "mine")  # one's own messages are never unread
        answer = await marked(alice, room, "alice", 2, 2)
    after = await rooms_of(stack, "alice", room)
    assert (before["readSeq"], before["unreadCount"]) == (0, 3)
    assert on_join["payload"] == {"userId": "alice", "seq": 0, "unreadCount": 3, "upto": 3}
    assert answer == {"userId": "alice", "seq": 2, "unreadCount": 1, "upto": 4}
    assert (after["readSeq"], after["unreadCount"]) == (2, 1)
    assert (await rooms_of(stack, "bob", room))["unreadCount"] == 1  # alice's message


async def test_a_mark_never_moves_back_and_one_beyond_the_head_is_clamped(
    stack: Stack, stores: Stores
) -> None:
    room = new_room()
    async with connect(stack, "gateway", "alice") as alice:
        await alice.send(join(room))
        await joined(alice, room, "alice")
        async with connect(stack, "gateway", "bob") as bob:
            await bob.send(join(room))
            await joined(bob, room, "bob")
            await say(bob, room, "1", "2", "3", "4")
        await alice.wait_for("chat", lambda f: f["seq"] == 4)
        await marked(alice, room, "alice", 3, 3)
        # its copy on the user's subject too, so that the next read frame is the next answer
        await alice.wait_for("read", lambda f: len(alice_marks(alice, room, 3)) >= 2)
        answer = after_now(alice, mark_of(room, "alice"))
        await alice.send(read(room, 1))
        back = (await alice.wait_for("read", answer))["payload"]
        stored_after_back = await read_seq(stores, room, "alice")
        beyond = await marked(alice, room, "alice", 10**12, 4)
    assert back == {"userId": "alice", "seq": 3, "unreadCount": 1, "upto": 4}  # not 1
    assert stored_after_back == 3
    assert beyond == {"userId": "alice", "seq": 4, "unreadCount": 0, "upto": 4}
    assert await read_seq(stores, room, "alice") == 4


def alice_marks(client: FrameClient, room: str, seq: int) -> list[Frame]:
    return [f for f in client.of_type("read") if mark_of(room, "alice", seq)(f)]


async def read_seq(stores: Stores, room: str, user: str) -> int | None:
    """The user's stored mark in ``room`` (``room_reads``), None when there is none."""
    database = await asyncpg.connect(stores.database_url)
    try:
        found: int | None = await database.fetchval(
            "SELECT read_seq FROM room_reads WHERE room = $1 AND user_id = $2", room, user
        )
        return found
    finally:
        await database.close()


async def test_a_mark_over_http_is_the_same_mark_as_over_the_websocket(stack: Stack) -> None:
    room = new_room()
    async with (
        connect(stack, "gateway", "alice") as alice,
        connect(stack, "gateway-2", "bob") as bob,
        http(stack, "gateway-2") as client,
    ):
        await alice.send(join(room))
        await bob.send(join(room))
        await joined(bob, room, "alice")
        await say(bob, room, "x", "y", "z")
        over_http = await client.post(f"/api/rooms/{room}/read?userId=alice", json={"seq": 2})
        seen_by_bob = await bob.wait_for("read", mark_of(room, "alice", 2))
        seen_by_alice = await alice.wait_for("read", mark_of(room, "alice", 2))  # her own socket
        await marked(alice, room, "alice", 3, 3)
        lower = await client.post(f"/api/rooms/{room}/read?userId=alice", json={"seq": 1})
    assert over_http.status_code == 200
    assert over_http.json() == {
        "room": room,
        "userId": "alice",
        "seq": 2,
        "unreadCount": 1,
        "upto": 3,
    }
    assert seen_by_bob["payload"] == {"userId": "alice", "seq": 2}
    assert seen_by_alice["payload"]["unreadCount"] == 1
    assert lower.json()["seq"] == 3  # the WebSocket's mark stands


async def test_bad_marks_over_http_are_refused_naming_seq_and_limited_per_user(
    stack: Stack,
) -> None:
    room = new_room()
    path = f"/api/rooms/{room}/read"
    async with http(stack, "gateway-2") as client:
        refusals = [
            await client.post(f"{path}?userId=carol", json=body)
            for body in ({}, {"seq": -1}, {"seq": "3"}, {"seq": 1.5}, {"seq": 2**63})
        ]
        not_json = await client.post(f"{path}?userId=carol", content=b"{nope")
        statuses = [
            (await client.post(f"{path}?userId=dave", json={"seq": 0})).status_code
            for _ in range(HTTP_BURST + 2)
        ]
        other = await client.post(f"{path}?userId=erin", json={"seq": 0})
    assert {r.status_code for r in refusals} == {422}
    assert {r.json()["field"] for r in refusals} == {"seq"}
    assert not_json.status_code == 400
    assert statuses[:HTTP_BURST] == [200] * HTTP_BURST
    assert 429 in statuses[HTTP_BURST:]
    assert other.status_code == 200


async def test_a_private_rooms_non_member_may_not_mark_nor_see_marks(stack: Stack) -> None:
    room = new_room()
    async with http(stack) as client:
        await client.post(
            "/api/rooms?userId=alice",
            json={"id": room, "name": "Secret", "private": True, "members": ["bob"]},
        )
        refused = await client.post(f"/api/rooms/{room}/read?userId=mallory", json={"seq": 1})
        async with (
            connect(stack, "gateway-2", "bob") as bob,
            connect(stack, "gateway-2", "mallory") as mallory,
        ):
            await bob.send(join(room))
            await bob.wait_for("read", mark_of(room, "bob"))  # his state on joining
            await mallory.send(join(room))
            forbidden = await mallory.wait_for("error", lambda f: f["payload"]["ref"] == room)
            await mallory.send(read(room, 1))
            not_joined = await mallory.wait_for(
                "error", lambda f: f["payload"]["code"] == "not_joined"
            )
            # a member's mark, while mallory is connected to the same gateway: once bob's own
            # copy arrived, the room's copy (published first) has gone out too
            relayed = after_now(bob, mark_of(room, "bob", 0))
            member = await client.post(f"/api/rooms/{room}/read?userId=bob", json={"seq": 0})
            await bob.wait_for("read", relayed)
    assert refused.status_code == 403
    assert "private" in refused.json()["error"]
    assert member.status_code == 200
    assert forbidden["payload"]["code"] == "forbidden"
    assert not_joined["payload"]["ref"] == room
    assert mallory.of_type("read") == []


async def test_with_auth_a_mark_is_the_tokens_users_and_needs_a_token(stack: Stack) -> None:
    room = new_room()
    path = f"/api/rooms/{room}/read"
    async with http(stack) as client:
        await client.post(
            "/api/rooms?userId=alice",
            json={"id": room, "name": "Secret", "private": True, "members": ["bob"]},
        )
    async with http(stack, "gateway-3") as client:
        anonymous = await client.post(f"{path}?userId=bob", json={"seq": 0})
        as_bob = await client.post(f"{path}?userId=mallory", json={"seq": 0}, headers=bearer("bob"))
        as_mallory = await client.post(
            f"{path}?userId=bob", json={"seq": 0}, headers=bearer("mallory")
        )
    async with FrameClient(f"{stack['gateway-3'].ws_url}/ws?token={mint('bob')}") as bob:
        await bob.send(join(room))
        on_join = await bob.wait_for("read", mark_of(room, "bob"))
    assert anonymous.status_code == 401
    assert as_bob.status_code == 200
    assert as_bob.json()["userId"] == "bob"  # not the userId the query claimed
    assert as_mallory.status_code == 403
    assert on_join["payload"]["userId"] == "bob"


async def test_the_mark_survives_a_reconnect_and_join_with_since_sees_the_current_count(
    stack: Stack,
) -> None:
    room = new_room()
    async with connect(stack, "gateway-2", "bob") as bob:
        await bob.send(join(room))
        await joined(bob, room, "bob")
        async with ChatConnection(stack["gateway"].ws_url, "alice", [room]) as alice:
            await joined(bob, room, "alice")  # alice is a member: she misses nothing after
            await bob.send({"type": "chat", "payload": {"room": room, "content": "hi"}})
            await say(bob, room, "there")
            async with asyncio.timeout(10):
                while alice.cursors.since(room) != 2:  # noqa: ASYNC110 (the client's own state)
                    await asyncio.sleep(0.02)
            alice.mark_read(room, 1)
            first = await alice.wait_read(room, "alice", 1, timeout=10)
            since = alice.cursors.since(room)
        await say(bob, room, "while", "away")
    async with connect(stack, "gateway", "alice") as back:
        await back.send(join(room, since=since))
        replay = await back.wait_for("replay")
        on_join = await back.wait_for("read", mark_of(room, "alice"))
    assert (first.seq, first.unread_count, first.upto) == (1, 1, 2)
    assert replay["payload"]["recovered"] is True
    assert [f["seq"] for f in back.of_type("chat")] == [3, 4]
    assert on_join["payload"] == {"userId": "alice", "seq": 1, "unreadCount": 3, "upto": 4}
    assert back.frames.index(on_join) > back.frames.index(replay)


async def test_marks_in_a_burst_reach_other_members_coalesced_the_latest_winning(
    stack: Stack,
) -> None:
    room = new_room()
    async with (
        connect(stack, "gateway", "alice") as alice,
        connect(stack, "gateway", "cy") as cy,
        connect(stack, "gateway-2", "bob") as bob,
    ):
        for client in (alice, cy, bob):
            await client.send(join(room))
        await joined(alice, room, "bob")
        await joined(alice, room, "cy")
        seqs = await say(cy, room, *(f"m{n}" for n in range(8)))
        for seq in seqs:
            await marked(alice, room, "alice", seq, seq)  # each one stored and answered
        last = await bob.wait_for("read", mark_of(room, "alice", seqs[-1]), timeout=5)
    relayed = [f["payload"]["seq"] for f in bob.of_type("read") if mark_of(room, "alice")(f)]
    assert relayed[-1] == 8
    assert last["payload"] == {"userId": "alice", "seq": 8}
    # the first at once, then at most one per READ_COALESCE_SECONDS (1 s): not one per mark
    assert len(relayed) <= 3, relayed
    assert relayed == sorted(relayed)


async def test_a_mark_persistence_cannot_store_is_refused_and_stored_when_sent_again(
    stack: Stack, stores: Stores
) -> None:
    """Nothing is acknowledged before it is stored: with persistence down a mark gets
    ``unavailable``; the client sends it again once persistence is back (a mark is idempotent).
    Last in the module: it restarts persistence."""
    room = new_room()
    persistence = stack["persistence"]
    async with connect(stack, "gateway", "alice") as alice:
        await alice.send(join(room))
        await joined(alice, room, "alice")
        await say(alice, room, "before")
        await asyncio.to_thread(persistence.kill)
        try:
            await alice.send(read(room, 1))
            refused = await alice.wait_for("error", lambda f: f["payload"]["ref"] == room, 30)
        finally:
            await asyncio.to_thread(persistence.start)
            await asyncio.to_thread(persistence.wait_ready)
        stored = await marked(alice, room, "alice", 1, 1)
    row = await read_seq(stores, room, "alice")
    assert refused["payload"]["code"] == "unavailable"
    marks = [f for f in alice.of_type("read") if f["room"] == room and f["payload"]["seq"] == 1]
    assert min(alice.frames.index(f) for f in marks) > alice.frames.index(refused)
    assert stored == {"userId": "alice", "seq": 1, "unreadCount": 0, "upto": 1}
    assert row == 1
