import asyncio
import secrets
from collections.abc import AsyncIterator

import asyncpg
import pytest
from switchboard_contracts import ChatMessage, EventKind
from switchboard_devstack.stores import Stores
from switchboard_persistence.chat_store import ChatStore
from switchboard_persistence.migrate import migrate

pytestmark = pytest.mark.component

APPLICATION = "chat-store-test"  # the sessions of this module's pools, to cut them


@pytest.fixture
async def store(stores: Stores) -> AsyncIterator[ChatStore]:
    pool = await asyncpg.create_pool(
        stores.database_url,
        min_size=1,
        max_size=2,
        server_settings={"application_name": APPLICATION},
    )
    async with pool.acquire() as conn:
        await migrate(conn)
    store = ChatStore(pool)
    yield store
    await store.close()
    await asyncio.wait_for(pool.close(), timeout=10)


def message(room: str, seq: int) -> ChatMessage:
    return ChatMessage(
        id=f"{room}-{seq}", room=room, seq=seq, sender_id="a", content=f"m{seq}", timestamp=seq
    )


async def test_inserting_a_message_twice_stores_it_once(store: ChatStore) -> None:
    room = f"r-{secrets.token_hex(4)}"
    await store.insert([message(room, 1), message(room, 2)])
    await store.insert([message(room, 2), message(room, 3)])
    page, has_more = await store.page(room, before=None, limit=10)
    assert [m.seq for m in page] == [3, 2, 1]
    assert not has_more


async def test_pages_go_newest_first_and_say_whether_more_exist(store: ChatStore) -> None:
    room = f"r-{secrets.token_hex(4)}"
    await store.insert([message(room, seq) for seq in range(1, 8)])
    first, more = await store.page(room, before=None, limit=3)
    assert ([m.seq for m in first], more) == ([7, 6, 5], True)
    second, more = await store.page(room, before=5, limit=3)
    assert ([m.seq for m in second], more) == ([4, 3, 2], True)
    last, more = await store.page(room, before=2, limit=3)
    assert ([m.seq for m in last], more) == ([1], False)


async def test_last_seq_of_a_room(store: ChatStore) -> None:
    room = f"r-{secrets.token_hex(4)}"
    assert await store.last_seq(room) == 0
    await store.insert([message(room, 1), message(room, 2)])
    assert await store.last_seq(room) == 2


async def test_a_stored_message_is_found_by_its_id(store: ChatStore) -> None:
    room = f"r-{secrets.token_hex(4)}"
    await store.insert([message(room, 1)])
    assert await store.get(f"{room}-1") == message(room, 1)
    assert await store.get(f"{room}-2") is None


async def test_stored_messages_are_found_by_their_ids_in_one_query(store: ChatStore) -> None:
    room = f"r-{secrets.token_hex(4)}"
    await store.insert([message(room, 1), message(room, 2)])
    found = await store.get_many([f"{room}-2", f"{room}-9", f"{room}-1"])
    assert sorted(found, key=lambda m: m.seq) == [message(room, 1), message(room, 2)]
    assert await store.get_many([]) == []


async def test_lookups_go_on_after_their_connection_is_cut(
    store: ChatStore, stores: Stores
) -> None:
    room = f"r-{secrets.token_hex(4)}"
    await store.insert([message(room, 1)])
    assert await store.get_many([f"{room}-1"]) == [message(room, 1)]
    # The store's sessions are cut, the connection the lookups keep among them.
    admin = await asyncpg.connect(stores.database_url)
    try:
        cut = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = $1",
            APPLICATION,
        )
    finally:
        await admin.close()
    assert cut >= 1
    assert await store.get_many([f"{room}-1", f"{room}-2"]) == [message(room, 1)]
    assert await store.get_many([f"{room}-1"]) == [message(room, 1)]


def change(target: ChatMessage, seq: int, kind: EventKind, content: str = "") -> ChatMessage:
    return ChatMessage(
        id=f"{target.room}-{seq}",
        room=target.room,
        seq=seq,
        sender_id="a",
        content=content,
        timestamp=1000 + seq,
        kind=kind,
        target_id=target.id,
        target_seq=target.seq,
    )


async def versions(store: ChatStore, message_id: str) -> list[tuple[int, str]]:
    return [(seq, content) for seq, content, _ in await store.versions(message_id)]


async def test_an_edit_gives_the_message_new_content_a_count_and_keeps_the_versions(
    store: ChatStore,
) -> None:
    room = f"r-{secrets.token_hex(4)}"
    original = message(room, 1)
    await store.insert([original])
    await store.insert([change(original, 2, EventKind.EDIT, "second"), message(room, 3)])
    await store.insert([change(original, 4, EventKind.EDIT, "third")])
    page, _ = await store.page(room, before=None, limit=10)
    assert [(m.seq, m.kind) for m in page] == [
        (4, EventKind.EDIT),
        (3, None),
        (2, EventKind.EDIT),
        (1, None),
    ]
    edited = page[3]
    assert (edited.content, edited.edit_count, edited.edited_at, edited.edited_seq) == (
        "third",
        2,
        1004,
        4,
    )
    assert await versions(store, original.id) == [(1, "m1"), (2, "second"), (4, "third")]


async def test_edits_redelivered_or_out_of_order_come_to_the_same_state(store: ChatStore) -> None:
    room = f"r-{secrets.token_hex(4)}"
    original = message(room, 1)
    first, second = (
        change(original, 2, EventKind.EDIT, "b"),
        change(original, 3, EventKind.EDIT, "c"),
    )
    await store.insert([original])
    await store.insert([second])  # the later batch committed first
    await store.insert([first])
    await store.insert([first, second])  # redelivered
    [stored] = await store.get_many([original.id])
    assert (stored.content, stored.edit_count, stored.edited_seq) == ("c", 2, 3)
    assert await versions(store, original.id) == [(1, "m1"), (2, "b"), (3, "c")]


async def test_a_deletion_leaves_a_tombstone_at_its_seq_and_no_content_anywhere(
    store: ChatStore,
) -> None:
    room = f"r-{secrets.token_hex(4)}"
    original = message(room, 1)
    await store.insert([original, message(room, 2)])
    await store.insert([change(original, 3, EventKind.EDIT, "secret edit")])
    await store.insert([change(original, 4, EventKind.DELETE)])
    await store.insert([change(original, 5, EventKind.EDIT, "too late")])  # ordered after it
    page, _ = await store.page(room, before=None, limit=10)
    assert [m.seq for m in page] == [5, 4, 3, 2, 1]
    tombstone = page[4]
    assert (tombstone.id, tombstone.content, tombstone.deleted) == (original.id, "", True)
    assert [m.content for m in page if m.kind is EventKind.EDIT] == ["", ""]
    assert page[3].content == "m2"
    assert await versions(store, original.id) == []


async def test_a_deletion_wins_whatever_order_its_batch_commits_in(store: ChatStore) -> None:
    room = f"r-{secrets.token_hex(4)}"
    original = message(room, 1)
    await store.insert([original])
    await store.insert([change(original, 2, EventKind.DELETE)])
    await store.insert([change(original, 3, EventKind.EDIT, "x")])
    await store.insert([change(original, 2, EventKind.DELETE)])  # redelivered
    [stored] = await store.get_many([original.id])
    assert (stored.content, stored.deleted) == ("", True)


async def test_versions_of_a_message_oldest_first_and_none_once_deleted(store: ChatStore) -> None:
    room = f"r-{secrets.token_hex(4)}"
    original, other = message(room, 1), message(room, 2)
    await store.insert([original, other])
    await store.insert([change(original, 3, EventKind.EDIT, "v2")])
    edited = await store.message_versions(room, original.id)
    assert [(v.seq, v.content) for v in edited.versions] == [(1, "m1"), (3, "v2")]
    never_edited = await store.message_versions(room, other.id)
    assert [(v.seq, v.content) for v in never_edited.versions] == [(2, "m2")]
    await store.insert([change(original, 4, EventKind.DELETE)])
    gone = await store.message_versions(room, original.id)
    assert (gone.deleted, gone.versions) == (True, [])
    for missing in (
        await store.message_versions("elsewhere", other.id),
        await store.message_versions(room, "nope"),
    ):
        assert missing.error is not None
        assert missing.error.code == "not_found"


def reaction(
    target: ChatMessage, seq: int, user: str, emoji: str, *, add: bool = True
) -> ChatMessage:
    return change(target, seq, EventKind.REACT if add else EventKind.UNREACT, emoji).model_copy(
        update={"sender_id": user}
    )


def shown(stored: ChatMessage) -> list[tuple[str, int, list[str]]]:
    return [(r.emoji, r.count, r.users) for r in stored.reactions or []]


async def test_reactions_are_counted_exactly_per_emoji_with_users_in_order(
    store: ChatStore,
) -> None:
    room = f"r-{secrets.token_hex(4)}"
    original = message(room, 1)
    await store.insert([original])
    users = [f"u{i:02}" for i in range(12)]
    await store.insert([reaction(original, 2 + i, u, "👍") for i, u in enumerate(users)])
    await store.insert(
        [
            reaction(original, 20, "al", "🎉"),
            reaction(original, 21, "al", "🎉"),  # again: changes nothing
            reaction(original, 22, "u00", "👍", add=False),
            reaction(original, 23, "zed", "👀", add=False),  # nothing to take back
        ]
    )
    page, _ = await store.page(room, before=None, limit=30)
    [stored] = [m for m in page if m.id == original.id]
    assert shown(stored) == [("👍", 11, users[1:11]), ("🎉", 1, ["al"])]
    assert [m.content for m in page if m.kind is EventKind.REACT][-1] == "👍"
    [looked_up] = await store.get_many([original.id])
    assert looked_up.reactions == stored.reactions
    plain = message(room, 30)
    await store.insert([plain])
    [unreacted] = await store.get_many([plain.id])
    assert unreacted.reactions is None


async def test_reactions_redelivered_or_out_of_order_come_to_the_same_state(
    store: ChatStore,
) -> None:
    room = f"r-{secrets.token_hex(4)}"
    original = message(room, 1)
    add, remove, again = (
        reaction(original, 2, "al", "👍"),
        reaction(original, 3, "al", "👍", add=False),
        reaction(original, 4, "al", "👍"),
    )
    await store.insert([original])
    await store.insert([again])  # batches committed out of their order
    await store.insert([remove])
    await store.insert([add])
    await store.insert([add, remove])  # redelivered
    [stored] = await store.get_many([original.id])
    assert shown(stored) == [("👍", 1, ["al"])]
    other = message(room, 10)
    await store.insert([other])
    await store.insert([reaction(other, 12, "al", "🎉", add=False)])
    await store.insert([reaction(other, 11, "al", "🎉")])
    [undone] = await store.get_many([other.id])
    assert undone.reactions is None


async def test_a_deletion_removes_a_message_s_reactions_and_later_ones_change_nothing(
    store: ChatStore,
) -> None:
    room = f"r-{secrets.token_hex(4)}"
    original = message(room, 1)
    await store.insert([original])
    await store.insert([reaction(original, 2, "al", "👍"), reaction(original, 3, "bo", "🎉")])
    await store.insert([change(original, 4, EventKind.DELETE)])
    await store.insert([reaction(original, 5, "cy", "👀")])
    [stored] = await store.get_many([original.id])
    assert (stored.deleted, stored.reactions) == (True, None)


async def test_a_reaction_writes_no_version_of_a_message_never_edited(
    store: ChatStore, pool: asyncpg.Pool
) -> None:
    room = f"r-{secrets.token_hex(4)}"
    original = message(room, 1)
    await store.insert([original])
    await store.insert([reaction(original, 2, "al", "👍")])
    held = await pool.fetchval(
        "SELECT count(*) FROM chat_message_versions WHERE message_id = $1", original.id
    )
    assert held == 0
    answer = await store.message_versions(room, original.id)
    assert [v.content for v in answer.versions] == [original.content]
