"""Reactions: each add or removal a durable event of the room at its own seq, delivered live to
every member on every gateway, replayed to a client back with ``since``, shown in history as the
message's current reactions (exact counts, bounded user lists), stored in PostgreSQL, applied
once per clientMsgId, refused for a bad emoji and for a non-member of a private room
(docs/protocol.md §2, "Reactions"; §4)."""

import asyncio
from urllib.parse import quote

import asyncpg
import httpx
import nats
import pytest
from switchboard_contracts import streams, subjects
from switchboard_contracts.reactions import MAX_MESSAGE_EMOJI, REACTION_USERS_LISTED
from switchboard_devstack import Stack
from switchboard_devstack.chatframes import (
    ROOM_EVENT_TYPES,
    acked,
    acknowledges,
    connect_as,
    join,
    joined,
    new_room,
    react,
    refusal,
    room_chat,
    room_events,
    seq_is,
)
from switchboard_devstack.fixtures import stack_fixture
from switchboard_devstack.stores import Stores
from switchboard_devstack.tokens import auth_env, bearer, service
from switchboard_devstack.wsclient import Frame

pytestmark = pytest.mark.e2e


USER_BURST = 8  # gateway-2's per-user HTTP limit: above what one user sends here, but for one
stack = stack_fixture(
    "e2e-chat-reactions",
    *("persistence", "notification", "chat", "gateway", "gateway-2"),
    env_of={
        "gateway": auth_env(),
        "gateway-2": {
            **auth_env(),
            "USER_FRAMES_PER_SECOND": "1",
            "USER_FRAME_BURST": str(USER_BURST),
        },
    },
)


def reaction_path(room: str, message_id: str, emoji: str) -> str:
    return f"/api/rooms/{room}/messages/{message_id}/reactions/{quote(emoji, safe='')}"


def reactions_of(page: list[Frame], message_id: str) -> list[tuple[str, int, list[str]]]:
    [message] = [f for f in page if f["type"] == "chat" and f["id"] == message_id]
    return [(r["emoji"], r["count"], r["users"]) for r in message["payload"].get("reactions", [])]


async def history(base_url: str, room: str, query: str = "") -> list[Frame]:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        response = await http.get(f"/api/rooms/{room}/messages{query}", headers=bearer("carol"))
    response.raise_for_status()
    page: list[Frame] = response.json()["messages"]
    return page


async def stored_reactions(
    database_url: str, message_id: str, until: int, timeout: float = 10.0
) -> list[tuple[str, str]]:
    """The (emoji, user) the message holds in ``chat_reactions``, in the order reacted, once
    its events up to seq ``until`` are stored: persistence writes after the ack."""
    database = await asyncpg.connect(database_url)
    try:
        async with asyncio.timeout(timeout):
            while True:
                stored = await database.fetchval(
                    "SELECT count(*) FROM chat_messages WHERE target_id = $1 AND seq = $2",
                    message_id,
                    until,
                )
                if stored:
                    break
                await asyncio.sleep(0.05)
        rows = await database.fetch(
            "SELECT emoji, user_id FROM chat_reactions WHERE message_id = $1 AND added"
            " ORDER BY seq",
            message_id,
        )
    finally:
        await database.close()
    return [(row["emoji"], row["user_id"]) for row in rows]


async def test_a_reaction_and_its_removal_reach_a_member_on_another_gateway_at_their_own_seq(
    stack: Stack,
) -> None:
    room = new_room()
    async with (
        connect_as(stack, "gateway", "alice") as alice,
        connect_as(stack, "gateway-2", "bob") as bob,
    ):
        await alice.send(join(room))
        await bob.send(join(room))
        await joined(bob, room, "bob")
        message = await acked(alice, room_chat(room, "lunch?"))
        added = await acked(bob, react(room, message["id"], "👍🏽"))
        removed = await acked(bob, react(room, message["id"], "👍🏽", add=False))
        await alice.wait_for("unreact", seq_is(removed["seq"]))
    assert (message["seq"], added["seq"], removed["seq"]) == (1, 2, 3)
    assert room_events(alice, room) == [("chat", 1), ("react", 2), ("unreact", 3)]
    [react_frame] = alice.of_type("react")
    assert (react_frame["senderId"], react_frame["id"]) == ("bob", added["id"])
    assert {k: react_frame["payload"][k] for k in ("messageId", "messageSeq", "emoji")} == {
        "messageId": message["id"],
        "messageSeq": 1,
        "emoji": "👍🏽",
    }
    assert alice.of_type("unreact")[0]["payload"]["emoji"] == "👍🏽"


async def test_a_client_back_with_since_gets_the_reactions_in_order(stack: Stack) -> None:
    room = new_room()
    async with connect_as(stack, "gateway", "alice") as alice:
        await alice.send(join(room))
        message = await acked(alice, room_chat(room, "vote"))
        await acked(alice, react(room, message["id"], "🎉"))
        await acked(alice, react(room, message["id"], ":ship_it:"))
        await acked(alice, react(room, message["id"], "🎉", add=False))
    async with connect_as(stack, "gateway-2", "bob") as bob:
        await bob.send(join(room, since=1))  # bob saw the message, then went away
        replay = await bob.wait_for("replay")
    assert replay["payload"]["recovered"] is True
    assert room_events(bob, room) == [("react", 2), ("react", 3), ("unreact", 4)]
    assert [f["payload"]["emoji"] for f in bob.frames if f["type"] in ROOM_EVENT_TYPES] == [
        "🎉",
        ":ship_it:",
        "🎉",
    ]


async def test_history_shows_exact_counts_the_first_users_and_postgresql_holds_the_same(
    stack: Stack, stores: Stores
) -> None:
    room = new_room()
    users = [f"u{i:02}" for i in range(REACTION_USERS_LISTED + 3)]
    async with (
        connect_as(stack, "gateway", "alice") as alice,
        httpx.AsyncClient(base_url=stack["gateway-2"].url, timeout=10) as http,
    ):
        await alice.send(join(room))
        message = await acked(alice, room_chat(room, "ship it?"))
        path = reaction_path(room, message["id"], "👍")
        for user in users:  # over HTTP, each user their own
            assert (await http.put(path, headers=bearer(user))).status_code == 200
        await acked(alice, react(room, message["id"], "🚀"))
        await acked(alice, react(room, message["id"], "🚀"))  # again: changes nothing
        await acked(alice, react(room, message["id"], "👀", add=False))  # nothing to take back
        gone = await http.delete(path, headers=bearer("u00"))
        last_seq = gone.json()["seq"]
        await alice.wait_for("unreact", seq_is(last_seq))
    expected = [("👍", len(users) - 1, users[1 : REACTION_USERS_LISTED + 1]), ("🚀", 1, ["alice"])]
    # the newest page at once: folded from the stream's events
    newest = await history(stack["gateway"].url, room)
    assert [f["type"] for f in newest][:4] == ["unreact", "unreact", "react", "react"]
    assert reactions_of(newest, message["id"]) == expected
    # PostgreSQL: one row per (emoji, user) held, in the order reacted
    rows = await stored_reactions(stores.database_url, message["id"], last_seq)
    assert rows == [("👍", u) for u in users[1:]] + [("🚀", "alice")]
    # an older page is read with PostgreSQL's state
    older = await history(stack["gateway-2"].url, room, "?before=2&limit=1")
    assert reactions_of(older, message["id"]) == expected


async def test_a_deletion_removes_the_message_s_reactions(stack: Stack, stores: Stores) -> None:
    room = new_room()
    async with connect_as(stack, "gateway", "alice") as alice:
        await alice.send(join(room))
        message = await acked(alice, room_chat(room, "oops"))
        await acked(alice, react(room, message["id"], "😬"))
        deleted = await acked(
            alice, {"type": "delete", "payload": {"room": room, "messageId": message["id"]}}
        )
        assert await stored_reactions(stores.database_url, message["id"], deleted["seq"]) == []
        late = await refusal(alice, react(room, message["id"], "👍"), "late-1")
    page = await history(stack["gateway-2"].url, room)
    [tombstone] = [f for f in page if f["type"] == "chat"]
    assert tombstone["payload"]["deleted"] is True
    assert "reactions" not in tombstone["payload"]
    assert late["code"] == "not_found"


async def test_the_same_client_msg_id_twice_is_one_reaction_acked_alike(stack: Stack) -> None:
    room = new_room()
    async with (
        connect_as(stack, "gateway", "alice") as alice,
        connect_as(stack, "gateway-2", "bob") as bob,
    ):
        await alice.send(join(room))
        await bob.send(join(room))
        await joined(bob, room, "bob")
        message = await acked(alice, room_chat(room, "nice"))
        frame = react(room, message["id"], "❤️")
        frame["payload"] |= {"clientMsgId": "r-1", "attempt": 1}
        await alice.send(frame)
        first = await alice.wait_for("ack", acknowledges("r-1"))
        async with connect_as(stack, "gateway-2", "alice") as retry:  # the ack was "lost"
            await retry.send(join(room))
            frame["payload"]["attempt"] = 2
            await retry.send(frame)
            second = await retry.wait_for("ack", acknowledges("r-1"))
        after = await acked(alice, room_chat(room, "after"))
        await bob.wait_for("chat", seq_is(after["seq"]))
    assert first["payload"] == second["payload"]
    assert room_events(bob, room) == [("chat", 1), ("react", 2), ("chat", 3)]


async def test_a_bad_emoji_an_unknown_message_and_a_twenty_first_emoji_are_refused(
    stack: Stack, stores: Stores
) -> None:
    room = new_room()
    async with (
        connect_as(stack, "gateway", "alice") as alice,
        httpx.AsyncClient(base_url=stack["gateway"].url, timeout=10) as http,
    ):
        await alice.send(join(room))
        message = await acked(alice, room_chat(room, "react to me"))
        spaced = await refusal(alice, react(room, message["id"], "thumbs up"), "b-1")
        control = await refusal(alice, react(room, message["id"], "\u202e👍"), "b-2")
        too_long = await refusal(alice, react(room, message["id"], "👍" * 9), "b-3")
        unknown = await refusal(alice, react(room, "no-such-message", "👍"), "b-4")
        over_http = await http.put(
            reaction_path(room, message["id"], "a\tb"), headers=bearer("alice")
        )
        for i in range(MAX_MESSAGE_EMOJI):  # each by its own user: within the per-user limit
            path = reaction_path(room, message["id"], f":e{i}:")
            twentieth = await http.put(path, headers=bearer(f"fan{i}"))
            assert twentieth.status_code == 200
        # the cap is counted on what PostgreSQL holds (milliseconds behind the ack)
        await stored_reactions(stores.database_url, message["id"], twentieth.json()["seq"])
        full = await refusal(alice, react(room, message["id"], ":one_more:"), "b-5")
        held = await acked(alice, react(room, message["id"], ":e0:"))
        after = await acked(alice, room_chat(room, "after"))
    assert [r["code"] for r in (spaced, control, too_long)] == ["invalid_content"] * 3
    assert spaced["message"] == "payload.emoji must not contain whitespace"
    assert "U+202E" in control["message"]
    assert "32 bytes" in too_long["message"]
    assert unknown["code"] == "not_found"
    assert (over_http.status_code, over_http.json()["field"]) == (422, "emoji")
    assert (full["code"], f"{MAX_MESSAGE_EMOJI} different emoji" in full["message"]) == (
        "invalid_content",
        True,
    )
    # nothing refused was stored: the seqs are the message, the 20 reactions, the held one, after
    assert (held["seq"], after["seq"]) == (MAX_MESSAGE_EMOJI + 2, MAX_MESSAGE_EMOJI + 3)


async def test_a_non_member_of_a_private_room_may_not_react(stack: Stack) -> None:
    room = new_room()
    spec = {"id": room, "name": "Board", "private": True, "members": ["alice"]}
    async with httpx.AsyncClient(base_url=stack["gateway-2"].url, timeout=10) as http:
        created = await http.post("/api/rooms", json=spec, headers=service("rooms:manage"))
        assert created.status_code == 201, created.text
        async with (
            connect_as(stack, "gateway", "alice") as alice,
            connect_as(stack, "gateway-2", "mallory") as mallory,
        ):
            await alice.send(join(room))
            message = await acked(alice, room_chat(room, "members only"))
            path = reaction_path(room, message["id"], "👍")
            by_http = await http.put(path, headers=bearer("mallory"))
            unreact_http = await http.delete(path, headers=bearer("mallory"))
            await mallory.send(join(room))
            entered = await mallory.wait_for("error", lambda f: f["payload"]["ref"] == room)
            unjoined = await refusal(mallory, react(room, message["id"], "👍"), "m-1")
            member = await http.put(path, json={"clientMsgId": "a-1"}, headers=bearer("alice"))
            await alice.wait_for("react", seq_is(member.json()["seq"]))
    assert (by_http.status_code, unreact_http.status_code) == (403, 403)
    assert entered["payload"]["code"] == "forbidden"
    assert unjoined["code"] == "not_joined"
    assert member.status_code == 200
    assert member.json()["seq"] == 2  # nothing of mallory's was stored
    assert room_events(alice, room) == [("chat", 1), ("react", 2)]


async def test_over_http_a_reaction_is_acked_once_per_client_msg_id_and_delivered(
    stack: Stack,
) -> None:
    room = new_room()
    async with (
        connect_as(stack, "gateway", "alice") as alice,
        httpx.AsyncClient(base_url=stack["gateway-2"].url, timeout=10) as http,
    ):
        await alice.send(join(room))
        message = await acked(alice, room_chat(room, "posted"))
        path = reaction_path(room, message["id"], "🙌")
        added = await http.put(path, json={"clientMsgId": "h-1"}, headers=bearer("bob"))
        again = await http.put(path, json={"clientMsgId": "h-1"}, headers=bearer("bob"))
        removed = await http.request(
            "DELETE", path, json={"clientMsgId": "h-2"}, headers=bearer("bob")
        )
        live = await alice.wait_for("unreact")
    assert added.status_code == 200
    assert again.json() == added.json()
    react_id = alice.of_type("react")[0]["id"]  # the event delivered live: what was stored
    assert added.json() == {"clientMsgId": "h-1", "id": react_id, "seq": 2, "room": room}
    assert removed.json()["seq"] == 3
    assert (live["payload"]["emoji"], live["senderId"]) == ("🙌", "bob")
    assert room_events(alice, room) == [("chat", 1), ("react", 2), ("unreact", 3)]


async def test_over_http_reactions_are_limited_per_user(stack: Stack, stores: Stores) -> None:
    room = new_room()
    async with (
        connect_as(stack, "gateway", "alice") as alice,
        httpx.AsyncClient(base_url=stack["gateway-2"].url, timeout=10) as http,
    ):
        await alice.send(join(room))
        message = await acked(alice, room_chat(room, "hot take"))
        path = reaction_path(room, message["id"], "🔥")
        answers = [await http.put(path, headers=bearer("spammer")) for _ in range(USER_BURST + 1)]
        other = await http.put(path, headers=bearer("mallory"))
        rows = await stored_reactions(stores.database_url, message["id"], other.json()["seq"])
    # within the burst each is stored (and changes nothing after the first); then refused,
    # unsent; another user's limit is their own
    assert [a.status_code for a in answers] == [200] * USER_BURST + [429]
    assert other.status_code == 200
    assert other.json()["seq"] == USER_BURST + 2
    assert rows == [("🔥", "spammer"), ("🔥", "mallory")]


async def test_resume_below_the_stream_reads_the_reactions_from_postgresql(
    stack: Stack, stores: Stores
) -> None:
    room = new_room()
    async with connect_as(stack, "gateway", "alice") as alice:
        await alice.send(join(room))
        message = await acked(alice, room_chat(room, "old news"))
        await acked(alice, react(room, message["id"], "📰"))
        taken = await acked(alice, react(room, message["id"], "🗞️"))
        await acked(alice, react(room, message["id"], "🗞️", add=False))
        last = await acked(alice, room_chat(room, "newer"))
    await stored_reactions(stores.database_url, message["id"], taken["seq"] + 1)
    await stored_row_of(stores.database_url, last["id"])
    bus = await nats.connect(stores.nats_url)
    try:  # as if seqs 1-4 had aged out of the stream: only PostgreSQL has them
        await bus.jetstream().purge_stream(
            streams.CHAT.name, subject=subjects.chat_room(room), keep=1
        )
    finally:
        await bus.close()
    async with connect_as(stack, "gateway-2", "bob") as bob:
        await bob.send(join(room, since=0))
        replay = await bob.wait_for("replay")
    assert replay["payload"]["recovered"] is True
    assert room_events(bob, room) == [
        ("chat", 1),
        ("react", 2),
        ("react", 3),
        ("unreact", 4),
        ("chat", 5),
    ]
    [first] = [f for f in bob.frames if f["type"] == "chat" and f["seq"] == 1]
    assert first["payload"]["reactions"] == [{"emoji": "📰", "count": 1, "users": ["alice"]}]
    assert [f["payload"]["emoji"] for f in bob.frames if f["type"] in ("react", "unreact")] == [
        "📰",
        "🗞️",
        "🗞️",
    ]


async def stored_row_of(database_url: str, message_id: str, timeout: float = 10.0) -> None:
    """Return once persistence has written the message ``message_id``."""
    database = await asyncpg.connect(database_url)
    try:
        async with asyncio.timeout(timeout):
            while True:
                if await database.fetchval("SELECT 1 FROM chat_messages WHERE id = $1", message_id):
                    return
                await asyncio.sleep(0.05)
    finally:
        await database.close()
