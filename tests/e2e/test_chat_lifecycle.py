"""Edit and delete: each a durable event of the room at its own seq, delivered live to every
member on every gateway, replayed to a client back with ``since``, shown in history as the
message's current state (a deletion a tombstone at the message's seq), stored in PostgreSQL,
allowed to the author or a moderator only, and applied once per clientMsgId."""

import asyncio
from typing import Any

import asyncpg
import httpx
import nats
import pytest
from switchboard_contracts import streams, subjects
from switchboard_devstack import Stack
from switchboard_devstack.chatframes import (
    ROOM_EVENT_TYPES,
    acked,
    acknowledges,
    connect_as,
    delete,
    edit,
    join,
    joined,
    new_room,
    refusal,
    room_chat,
    room_events,
    seq_is,
)
from switchboard_devstack.fixtures import stack_fixture
from switchboard_devstack.stores import Stores
from switchboard_devstack.tokens import auth_env, bearer

pytestmark = pytest.mark.e2e


USER_BURST = 8  # gateway-2's per-user limit: far above what these tests send, but for one
stack = stack_fixture(
    "e2e-chat-lifecycle",
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


async def stored_row(database_url: str, message_id: str, until: str, timeout: float = 10.0) -> Any:
    """The message's row once ``until`` (an SQL condition on it) holds: persistence writes after
    the ack."""
    database = await asyncpg.connect(database_url)
    try:
        async with asyncio.timeout(timeout):
            while True:
                row = await database.fetchrow(
                    f"SELECT * FROM chat_messages WHERE id = $1 AND {until}",
                    message_id,
                )
                if row is not None:
                    return row
                await asyncio.sleep(0.05)
    finally:
        await database.close()


async def test_an_edit_and_a_delete_reach_a_member_on_another_gateway_at_their_own_seq(
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
        message = await acked(alice, room_chat(room, "helo"))
        edited = await acked(alice, edit(room, message["id"], " hello \x07"))
        deleted = await acked(alice, delete(room, message["id"]))
        await bob.wait_for("delete", seq_is(deleted["seq"]))
    assert (message["seq"], edited["seq"], deleted["seq"]) == (1, 2, 3)
    assert room_events(bob, room) == [("chat", 1), ("edit", 2), ("delete", 3)]
    [edit_frame] = bob.of_type("edit")
    assert edit_frame["senderId"] == "alice"
    assert edit_frame["payload"]["messageId"] == message["id"]
    assert edit_frame["payload"]["messageSeq"] == 1
    assert edit_frame["payload"]["content"] == "hello"  # sanitised like a new message
    assert edit_frame["id"] == edited["id"]
    [delete_frame] = bob.of_type("delete")
    assert delete_frame["payload"]["messageId"] == message["id"]
    assert "content" not in delete_frame["payload"]


async def test_a_client_back_with_since_gets_the_edit_and_the_delete_in_order(stack: Stack) -> None:
    room = new_room()
    async with connect_as(stack, "gateway", "alice") as alice:
        await alice.send(join(room))
        first = await acked(alice, room_chat(room, "one"))
        second = await acked(alice, room_chat(room, "two"))
        await acked(alice, edit(room, first["id"], "one, edited"))
        await acked(alice, delete(room, second["id"]))
        await acked(alice, room_chat(room, "three"))
    async with connect_as(stack, "gateway-2", "bob") as bob:
        await bob.send(join(room, since=2))  # bob saw both messages, then went away
        replay = await bob.wait_for("replay")
    assert replay["payload"]["recovered"] is True
    assert room_events(bob, room) == [("edit", 3), ("delete", 4), ("chat", 5)]
    [edit_frame] = bob.of_type("edit")
    assert (edit_frame["payload"]["messageId"], edit_frame["payload"]["content"]) == (
        first["id"],
        "one, edited",
    )
    assert bob.of_type("delete")[0]["payload"]["messageId"] == second["id"]


async def test_history_shows_the_current_state_and_the_tombstone_keeps_its_seq(
    stack: Stack, stores: Stores
) -> None:
    room = new_room()
    async with connect_as(stack, "gateway", "alice") as alice:
        await alice.send(join(room))
        first = await acked(alice, room_chat(room, "first"))
        second = await acked(alice, room_chat(room, "second, regretted"))
        edited = await acked(alice, edit(room, first["id"], "first, edited"))
        await acked(alice, delete(room, second["id"]))
    # read at once: the stream has the events, PostgreSQL may not have applied them yet
    async with httpx.AsyncClient(base_url=stack["gateway-2"].url, timeout=10) as http:
        response = await http.get(f"/api/rooms/{room}/messages", headers=bearer("carol"))
    response.raise_for_status()
    page = response.json()["messages"]
    assert [(f["type"], f["seq"]) for f in page] == [
        ("delete", 4),
        ("edit", 3),
        ("chat", 2),
        ("chat", 1),
    ]
    tombstone, message = page[2]["payload"], page[3]["payload"]
    assert (tombstone["id"], tombstone["content"], tombstone["deleted"]) == (
        second["id"],
        "",
        True,
    )
    assert (message["content"], message["editCount"]) == ("first, edited", 1)
    assert message["editedAt"] == page[1]["timestamp"]
    # and PostgreSQL holds the same: the new content, the tombstone without its content
    row = await stored_row(stores.database_url, first["id"], "edit_count = 1")
    assert (row["content"], row["edited_seq"]) == ("first, edited", edited["seq"])
    gone = await stored_row(stores.database_url, second["id"], "deleted")
    assert (gone["content"], gone["seq"]) == ("", 2)
    # the versions: the original and the edit; none kept of the deleted message
    async with connect_as(stack, "gateway-2", "carol") as carol:  # not a member: may read it
        for message_id in (first["id"], second["id"]):
            await carol.send(
                {"type": "versions", "payload": {"room": room, "messageId": message_id}}
            )
        kept = await carol.wait_for("versions", lambda f: f["payload"]["messageId"] == first["id"])
        none = await carol.wait_for("versions", lambda f: f["payload"]["messageId"] == second["id"])
    assert [(v["seq"], v["content"]) for v in kept["payload"]["versions"]] == [
        (1, "first"),
        (3, "first, edited"),
    ]
    assert (none["payload"]["versions"], none["payload"]["deleted"]) == ([], True)


async def test_a_non_author_is_refused_and_a_moderator_is_not(stack: Stack, stores: Stores) -> None:
    room = new_room()
    async with (
        connect_as(stack, "gateway", "alice") as alice,
        connect_as(stack, "gateway-2", "mallory") as mallory,
        connect_as(stack, "gateway-2", "mod", scope="rooms:moderate") as moderator,
    ):
        for client, user in ((alice, "alice"), (mallory, "mallory"), (moderator, "mod")):
            await client.send(join(room))
            await joined(client, room, user)
        message = await acked(alice, room_chat(room, "mine"))
        edit_refused = await refusal(mallory, edit(room, message["id"], "yours now"), "x-1")
        delete_refused = await refusal(mallory, delete(room, message["id"]), "x-2")
        unknown = await refusal(alice, edit(room, "no-such-message", "?"), "x-3")
        moderated = await acked(moderator, delete(room, message["id"]))
        await alice.wait_for("delete", seq_is(moderated["seq"]))
        # refused once the deletion is stored (before, an edit would be stored and change nothing)
        await stored_row(stores.database_url, message["id"], "deleted")
        after_delete = await refusal(alice, edit(room, message["id"], "again"), "x-4")
    assert (edit_refused["code"], delete_refused["code"]) == ("forbidden", "forbidden")
    assert message["id"] in edit_refused["message"]
    assert unknown["code"] == "not_found"
    assert after_delete["code"] == "not_found"
    # nothing refused was stored or delivered: the moderator's deletion came right after the chat
    assert moderated["seq"] == 2
    assert room_events(alice, room) == [("chat", 1), ("delete", 2)]
    assert alice.of_type("delete")[0]["senderId"] == "mod"


async def test_the_same_client_msg_id_twice_is_one_edit_acked_alike(stack: Stack) -> None:
    room = new_room()
    async with (
        connect_as(stack, "gateway", "alice") as alice,
        connect_as(stack, "gateway-2", "bob") as bob,
    ):
        await alice.send(join(room))
        await bob.send(join(room))
        await joined(bob, room, "bob")
        message = await acked(alice, room_chat(room, "typo"))
        frame = edit(room, message["id"], "fixed")
        frame["payload"] |= {"clientMsgId": "e-1", "attempt": 1}
        await alice.send(frame)
        first = await alice.wait_for("ack", acknowledges("e-1"))
        async with connect_as(stack, "gateway-2", "alice") as retry:  # the ack was "lost"
            await retry.send(join(room))
            frame["payload"]["attempt"] = 2
            await retry.send(frame)
            second = await retry.wait_for("ack", acknowledges("e-1"))
        after = await acked(alice, room_chat(room, "after"))
        await bob.wait_for("chat", seq_is(after["seq"]))
    assert first["payload"] == second["payload"]
    assert room_events(bob, room) == [("chat", 1), ("edit", 2), ("chat", 3)]


async def test_resume_and_history_below_the_stream_read_the_events_from_postgresql(
    stack: Stack, stores: Stores
) -> None:
    room = new_room()
    async with connect_as(stack, "gateway", "alice") as alice:
        await alice.send(join(room))
        first = await acked(alice, room_chat(room, "one"))
        second = await acked(alice, room_chat(room, "two"))
        await acked(alice, edit(room, first["id"], "one, edited"))
        await acked(alice, delete(room, second["id"]))
        five = await acked(alice, room_chat(room, "five"))
        last = await acked(alice, room_chat(room, "six"))
    for message_id, condition in (
        (first["id"], "edit_count = 1"),  # so the edit is stored, and so on
        (second["id"], "deleted"),
        (last["id"], "true"),
        (five["id"], "true"),
    ):
        await stored_row(stores.database_url, message_id, condition)
    bus = await nats.connect(stores.nats_url)
    try:  # as if seqs 1-4 had aged out of the stream: only PostgreSQL has them
        await bus.jetstream().purge_stream(
            streams.CHAT.name, subject=subjects.chat_room(room), keep=2
        )
    finally:
        await bus.close()
    async with connect_as(stack, "gateway-2", "bob") as bob:
        await bob.send(join(room, since=0))
        replay = await bob.wait_for("replay")
    assert replay["payload"]["recovered"] is True
    assert room_events(bob, room) == [
        ("chat", 1),
        ("chat", 2),
        ("edit", 3),
        ("delete", 4),
        ("chat", 5),
        ("chat", 6),
    ]
    replayed = {f["seq"]: f["payload"] for f in bob.frames if f["type"] in ROOM_EVENT_TYPES}
    # read from PostgreSQL, the messages come in their current state; the events as they were
    assert (replayed[1]["content"], replayed[1]["editCount"]) == ("one, edited", 1)
    assert (replayed[2]["content"], replayed[2]["deleted"]) == ("", True)
    assert (replayed[3]["messageId"], replayed[3]["content"]) == (first["id"], "one, edited")
    assert replayed[4]["messageId"] == second["id"]
    async with httpx.AsyncClient(base_url=stack["gateway"].url, timeout=10) as http:
        response = await http.get(
            f"/api/rooms/{room}/messages?limit=4&before=6", headers=bearer("carol")
        )
    page = response.json()["messages"]
    assert [(f["type"], f["seq"]) for f in page] == [
        ("chat", 5),
        ("delete", 4),
        ("edit", 3),
        ("chat", 2),
    ]
    assert page[3]["payload"]["deleted"] is True


async def test_over_http_an_edit_a_deletion_and_the_versions_follow_the_same_rules(
    stack: Stack, stores: Stores
) -> None:
    room = new_room()
    async with (
        connect_as(stack, "gateway", "alice") as alice,
        httpx.AsyncClient(base_url=stack["gateway-2"].url, timeout=10) as http,
    ):
        await alice.send(join(room))
        message = await acked(alice, room_chat(room, "posted"))
        path = f"/api/rooms/{room}/messages/{message['id']}"
        edited = await http.patch(
            path, json={"content": " fixed ", "clientMsgId": "h-1"}, headers=bearer("alice")
        )
        again = await http.patch(
            path, json={"content": " fixed ", "clientMsgId": "h-1"}, headers=bearer("alice")
        )
        live = await alice.wait_for("edit")
        empty = await http.patch(path, json={"content": "  "}, headers=bearer("alice"))
        foreign = await http.delete(path, headers=bearer("mallory"))
        await stored_row(stores.database_url, message["id"], "edit_count = 1")
        versions = await http.get(f"{path}/versions", headers=bearer("carol"))
        deleted = await http.delete(path, headers=bearer("mod", scope="rooms:moderate"))
        await alice.wait_for("delete")
    assert edited.status_code == 200
    assert again.json() == edited.json()  # once per clientMsgId
    assert edited.json() == {"clientMsgId": "h-1", "id": live["id"], "seq": 2, "room": room}
    assert (live["payload"]["content"], live["senderId"]) == ("fixed", "alice")
    assert (empty.status_code, foreign.status_code) == (422, 403)
    assert [v["content"] for v in versions.json()["versions"]] == ["posted", "fixed"]
    assert deleted.status_code == 200
    assert deleted.json()["seq"] == 3
    assert room_events(alice, room) == [("chat", 1), ("edit", 2), ("delete", 3)]


async def test_over_http_edits_and_deletions_are_limited_per_user(stack: Stack) -> None:
    room = new_room()
    async with (
        connect_as(stack, "gateway", "alice") as alice,
        httpx.AsyncClient(base_url=stack["gateway-2"].url, timeout=10) as http,
    ):
        await alice.send(join(room))
        message = await acked(alice, room_chat(room, "not yours"))
        path = f"/api/rooms/{room}/messages/{message['id']}"
        spammer = bearer("spammer")
        statuses = [  # edits and deletions in turns: one limit for both
            (
                await http.patch(path, json={"content": "x"}, headers=spammer)
                if n % 2 == 0
                else await http.delete(path, headers=spammer)
            ).status_code
            for n in range(USER_BURST + 1)
        ]
        other = await http.patch(path, json={"content": "x"}, headers=bearer("mallory"))
    # refused by chat (not the author) while within the burst; then by the gateway, unsent
    assert statuses == [403] * USER_BURST + [429]
    assert other.status_code == 403  # another user's limit is their own
