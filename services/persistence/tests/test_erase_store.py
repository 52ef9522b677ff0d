"""Erasing a user's rows, against real PostgreSQL: tombstones in place, edits blanked, versions
gone, a moderator's edit of another's message undone, unwritten events inserted blank, and a
rerun that changes and reports nothing."""

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pytest
from switchboard_contracts import ChatMessage, EventKind
from switchboard_contracts.erase import RoomErased
from switchboard_contracts.notify import Notification, NotificationType, audience_of
from switchboard_devstack.stores import Stores
from switchboard_persistence.chat_store import ChatStore
from switchboard_persistence.erase_store import EraseStore
from switchboard_persistence.migrate import migrate
from switchboard_persistence.notify_store import NotifyStore

pytestmark = pytest.mark.component


@dataclass
class Stores2:
    chat: ChatStore
    erase: EraseStore
    pool: asyncpg.Pool


@pytest.fixture
async def both(stores: Stores) -> AsyncIterator[Stores2]:
    pool = await asyncpg.create_pool(stores.database_url, min_size=1, max_size=2)
    async with pool.acquire() as conn:
        await migrate(conn)
    chat = ChatStore(pool)
    yield Stores2(chat, EraseStore(pool), pool)
    await chat.close()
    await asyncio.wait_for(pool.close(), timeout=10)


def event(room: str, seq: int, sender: str, content: str, **fields: object) -> ChatMessage:
    return ChatMessage.model_validate(
        {
            "id": f"{room}-{seq}",
            "room": room,
            "seq": seq,
            "sender_id": sender,
            "content": content,
            "timestamp": seq,
            **fields,
        }
    )


def edit(room: str, seq: int, sender: str, content: str, target: int) -> ChatMessage:
    return event(
        room,
        seq,
        sender,
        content,
        kind=EventKind.EDIT,
        target_id=f"{room}-{target}",
        target_seq=target,
    )


async def test_a_users_rows_become_tombstones_and_others_are_left_as_they_were(
    both: Stores2,
) -> None:
    user = f"u-{secrets.token_hex(4)}"
    room = f"r-{secrets.token_hex(4)}"
    await both.chat.insert([event(room, 1, user, "secret one"), event(room, 2, "bob", "bob's")])
    await both.chat.insert([edit(room, 3, user, "secret edited", 1)])
    await both.chat.insert([edit(room, 4, user, "moderated by user", 2)])  # a moderator's edit
    await both.chat.insert([edit(room, 5, "bob", "bob's again", 2)])
    await both.chat.insert([edit(room, 6, "bob", "bob on user's", 1)])
    unwritten = event(room, 7, user, "not stored yet")

    report = await both.erase.erase_room(user, room, [unwritten])

    assert report == RoomErased(messages=2, edits=2)
    rows = {
        r["seq"]: r
        for r in await both.pool.fetch("SELECT * FROM chat_messages WHERE room = $1", room)
    }
    assert [rows[s]["content"] for s in (1, 3, 4, 6, 7)] == ["", "", "", "", ""]
    assert (rows[1]["deleted"], rows[7]["deleted"], rows[1]["sender_name"]) == (True, True, None)
    assert (rows[2]["content"], rows[2]["edit_count"], rows[2]["deleted"]) == (
        "bob's again",
        1,
        False,
    )
    assert rows[5]["content"] == "bob's again"
    versions = await both.pool.fetch(
        "SELECT message_id, seq, content FROM chat_message_versions WHERE message_id LIKE $1",
        f"{room}-%",
    )
    assert sorted((v["message_id"], v["seq"], v["content"]) for v in versions) == [
        (f"{room}-2", 2, "bob's"),
        (f"{room}-2", 5, "bob's again"),
    ]
    assert await both.erase.erase_room(user, room, [unwritten]) == RoomErased()
    # the writer storing the unwritten event afterwards changes nothing
    await both.chat.insert([unwritten])
    stored = await both.chat.get(unwritten.id)
    assert stored is not None
    assert (stored.content, stored.deleted) == ("", True)


async def test_a_moderators_only_edit_erased_leaves_the_original(both: Stores2) -> None:
    user = f"u-{secrets.token_hex(4)}"
    room = f"r-{secrets.token_hex(4)}"
    await both.chat.insert([event(room, 1, "bob", "original")])
    await both.chat.insert([edit(room, 2, user, "moderated", 1)])
    assert await both.erase.erase_room(user, room, []) == RoomErased(edits=1)
    message = await both.chat.get(f"{room}-1")
    assert message is not None
    assert (message.content, message.edit_count, message.edited_seq) == ("original", None, None)
    # a later edit by bob does not bring the erased edit back as a version
    await both.chat.insert([edit(room, 3, "bob", "bob edits", 1)])
    assert [c for _, c, _ in await both.chat.versions(f"{room}-1")] == ["original", "bob edits"]


async def test_a_reaction_the_writer_stores_after_its_erasure_stays_erased(both: Stores2) -> None:
    """The writer may hold a reaction it read from the stream before the erasure inserted it
    blank: storing it afterwards must not bring the user back into the message's reactions."""
    user = f"u-{secrets.token_hex(4)}"
    room = f"r-{secrets.token_hex(4)}"
    await both.chat.insert([event(room, 1, "bob", "react to me")])
    reaction = event(room, 2, user, "👍", kind=EventKind.REACT, target_id=f"{room}-1", target_seq=1)
    await both.erase.erase_room(user, room, [reaction])
    await both.chat.insert([reaction])
    rows = await both.pool.fetch(
        "SELECT user_id FROM chat_reactions WHERE message_id = $1", f"{room}-1"
    )
    assert rows == []
    message = await both.chat.get(f"{room}-1")
    assert message is not None
    assert not message.reactions


async def test_an_erased_user_leaves_their_audiences_and_the_broadcasts_stay(
    both: Stores2,
) -> None:
    team = f"t-{secrets.token_hex(4)}"
    now = (1 << 52) + secrets.randbelow(1 << 40) * 1000  # a position no other test writes at
    erased, other = f"u-{secrets.token_hex(4)}", f"u-{secrets.token_hex(4)}"
    notes = NotifyStore(both.pool)
    for user in (erased, other):
        await notes.register(user, [team], now)
    await notes.register(erased, [], now + 2)  # a closed interval, too
    await notes.register(erased, [team], now + 3)
    sent = Notification(
        id=f"b-{now}",
        user_id="",
        cursor=now + 1,
        type=NotificationType.INFO,
        title="t",
        message="m",
        timestamp=1,
        broadcast_id=f"b-{now}",
        team=team,
        audience=audience_of(team),
    )
    await notes.insert([sent])
    assert (await notes.replay(erased, after=0, limit=10)).notifications == [
        sent.for_member(erased)
    ]
    assert await both.erase.forget_memberships(erased) == 3  # all, and two of the team
    assert await notes.memberships(erased) == []
    assert (await notes.replay(erased, after=0, limit=10)).notifications == []
    assert (await notes.replay(other, after=0, limit=10)).notifications == [sent.for_member(other)]
    assert await both.erase.forget_memberships(erased) == 0  # a rerun: nothing left
