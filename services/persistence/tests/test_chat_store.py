import asyncio
import secrets
from collections.abc import AsyncIterator

import asyncpg
import pytest
from switchboard_contracts import ChatMessage
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
