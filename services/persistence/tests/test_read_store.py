import secrets

import asyncpg
import pytest
from switchboard_contracts import ChatMessage, EventKind
from switchboard_persistence.chat_store import ChatStore
from switchboard_persistence.read_store import ReadStore

pytestmark = pytest.mark.component


def message(room: str, seq: int, sender: str = "bo", **extra: object) -> ChatMessage:
    return ChatMessage(
        id=f"{room}-{seq}",
        room=room,
        seq=seq,
        sender_id=sender,
        content=f"m{seq}",
        timestamp=seq,
        **extra,  # type: ignore[arg-type]
    )


def new_room() -> str:
    return f"r-{secrets.token_hex(4)}"


async def test_a_mark_never_moves_back_and_is_stored_once(pool: asyncpg.Pool) -> None:
    reads, room = ReadStore(pool), new_room()
    await ChatStore(pool).insert([message(room, seq) for seq in range(1, 6)])
    assert (await reads.mark(room, "al", 3, 5)).seq == 3
    lower = await reads.mark(room, "al", 1, 5)
    assert (lower.seq, lower.unread_count, lower.upto) == (3, 2, 5)
    assert (await reads.mark(room, "al", 3, 5)).seq == 3
    rows = await pool.fetch("SELECT read_seq FROM room_reads WHERE room = $1", room)
    assert [row["read_seq"] for row in rows] == [3]


async def test_unread_counts_only_others_messages_not_changes_or_deleted(
    pool: asyncpg.Pool,
) -> None:
    reads, room = ReadStore(pool), new_room()
    store = ChatStore(pool)
    await store.insert(
        [
            message(room, 1),
            message(room, 2, sender="al"),  # own
            message(room, 3),
            message(room, 4),
        ]
    )
    await store.insert(
        [
            message(room, 5, kind=EventKind.EDIT, target_id=f"{room}-3"),
            message(room, 6, kind=EventKind.DELETE, target_id=f"{room}-4"),
        ]
    )
    [state] = await reads.states("al", [room], [])
    assert (state.seq, state.upto, state.unread_count) == (0, 6, 2)  # 1 and 3
    marked = await reads.mark(room, "al", 1, 6)
    assert marked.unread_count == 1


async def test_states_of_rooms_never_marked_are_zero_marks(pool: asyncpg.Pool) -> None:
    reads, room = ReadStore(pool), new_room()
    [state] = await reads.states("al", [room], [])
    assert (state.room, state.seq, state.unread_count, state.upto) == (room, 0, 0, 0)


async def test_a_head_given_counts_up_to_it(pool: asyncpg.Pool) -> None:
    reads, room = ReadStore(pool), new_room()
    await ChatStore(pool).insert([message(room, seq) for seq in range(1, 6)])
    [state] = await reads.states("al", [room], [3])
    assert (state.upto, state.unread_count) == (3, 3)


async def test_states_of_many_rooms_come_in_the_order_asked_each_with_its_own_mark_and_head(
    pool: asyncpg.Pool,
) -> None:
    reads, store = ReadStore(pool), ChatStore(pool)
    rooms = [new_room() for _ in range(12)]  # more than are counted at once
    for index, room in enumerate(rooms):
        await store.insert([message(room, seq) for seq in range(1, index + 2)])
        if index % 3 == 0:
            await reads.mark(room, "al", 1, index + 1)
    heads: list[int | None] = [None if index % 2 else index for index in range(len(rooms))]
    states = await reads.states("al", rooms, heads)
    assert [state.room for state in states] == rooms
    for index, state in enumerate(states):
        mark = 1 if index % 3 == 0 else 0
        given = heads[index]
        upto = max(index + 1 if given is None else given, mark)
        assert (state.seq, state.upto, state.unread_count) == (mark, upto, upto - mark), index
