"""The per-room sequence against a real JetStream: gap-free under concurrent chat instances."""

import asyncio
import secrets
from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client
from switchboard_chat.sequencer import RoomSequencer
from switchboard_contracts import ChatMessage, streams, subjects
from switchboard_devstack.stores import Stores
from switchboard_runtime import ensure_stream
from switchboard_runtime.messaging.stream_pipeline import StreamPipeline

pytestmark = pytest.mark.component


@pytest.fixture
async def connections(stores: Stores) -> AsyncIterator[list[Client]]:
    clients = [await nats.connect(stores.nats_url) for _ in range(2)]
    await ensure_stream(clients[0].jetstream(), streams.CHAT)
    yield clients
    for client in clients:
        await client.close()


async def nothing_stored(room: str) -> int:
    del room
    return 0


def draft(room: str, message_id: str) -> ChatMessage:
    """Message ids are deduplicated stream-wide, so the test ids carry the room, as real ones do."""
    return ChatMessage(
        id=f"{room}/{message_id}", room=room, seq=0, sender_id="alice", content="x", timestamp=1
    )


async def test_two_instances_writing_one_room_produce_a_gap_free_sequence(
    connections: list[Client],
) -> None:
    room = f"r-{secrets.token_hex(4)}"
    instances = [RoomSequencer(c.jetstream(), nothing_stored) for c in connections]
    stored = await asyncio.gather(
        *(instances[i % 2].publish(draft(room, f"m-{i}")) for i in range(60))
    )
    assert sorted(m.seq for m in stored) == list(range(1, 61))
    # and the stream holds them in seq order
    js = connections[0].jetstream()
    sub = await js.subscribe(subjects.chat_room(room), ordered_consumer=True)
    seen = [ChatMessage.decode((await sub.next_msg(timeout=5)).data).seq for _ in range(60)]
    assert seen == list(range(1, 61))


async def test_a_retried_message_id_returns_the_original_without_storing_twice(
    connections: list[Client],
) -> None:
    room = f"r-{secrets.token_hex(4)}"
    first, second = (RoomSequencer(c.jetstream(), nothing_stored) for c in connections)
    original = await first.publish(draft(room, "same-id"))
    await first.publish(draft(room, "other-id"))
    retried = await second.publish(draft(room, "same-id"))
    assert (retried.id, retried.seq) == (original.id, original.seq) == (f"{room}/same-id", 1)
    last = (
        await connections[0].jetstream().get_last_msg(streams.CHAT.name, subjects.chat_room(room))
    )
    assert ChatMessage.decode(last.data or b"").seq == 2


async def test_a_room_unknown_to_the_stream_continues_from_what_persistence_stored(
    connections: list[Client],
) -> None:
    room = f"r-{secrets.token_hex(4)}"

    async def forty_stored(asked: str) -> int:
        assert asked == room
        return 40

    message = await RoomSequencer(connections[0].jetstream(), forty_stored).publish(
        draft(room, "m")
    )
    assert message.seq == 41


async def test_live_subscribers_see_each_stored_message_once_in_order_and_nothing_rejected(
    connections: list[Client],
) -> None:
    """Rejected attempts (a concurrent writer) and duplicates (a retry) never reach gateways."""
    room = f"r-{secrets.token_hex(4)}"
    live = await connections[0].subscribe(subjects.chat_live(room))
    instances = [RoomSequencer(c.jetstream(), nothing_stored) for c in connections]
    await asyncio.gather(*(instances[i % 2].publish(draft(room, f"m-{i}")) for i in range(40)))
    await instances[1].publish(draft(room, "m-0"))  # a retry of an already stored message
    last = await instances[0].publish(draft(room, "last"))
    received: list[int] = []
    while not received or received[-1] != last.seq:
        received.append(ChatMessage.decode((await live.next_msg(timeout=5)).data).seq)
    assert received == list(range(1, 42))


def batch_instances(connections: list[Client]) -> list[RoomSequencer]:
    return [
        RoomSequencer(c.jetstream(), nothing_stored, pipeline=StreamPipeline(c))
        for c in connections
    ]


async def test_batches_of_two_instances_keep_every_room_gap_free_and_each_batch_in_its_order(
    connections: list[Client],
) -> None:
    """Pipelined rounds on two instances at once, each batch holding several messages of the
    same rooms: every room's seq is 1..n without a gap, and a batch's messages of a room are
    stored in the batch's order."""
    rooms = [f"r-{secrets.token_hex(4)}" for _ in range(3)]
    instances = batch_instances(connections)
    batches = [[draft(rooms[(b + i) % 3], f"b{b}-m{i}") for i in range(9)] for b in range(8)]
    results = await asyncio.gather(
        *(instances[b % 2].publish_batch(batch) for b, batch in enumerate(batches))
    )
    stored = [m for result in results for m in result]
    assert all(isinstance(m, ChatMessage) for m in stored)
    messages = [m for m in stored if isinstance(m, ChatMessage)]
    for room in rooms:
        assert sorted(m.seq for m in messages if m.room == room) == list(range(1, 25))
    for batch, result in zip(batches, results, strict=True):
        assert [m.id for m in result if isinstance(m, ChatMessage)] == [d.id for d in batch]
        for room in rooms:
            seqs = [m.seq for m in result if isinstance(m, ChatMessage) and m.room == room]
            assert seqs == sorted(seqs)


async def test_a_batch_retried_whole_is_answered_with_the_originals_and_stored_once(
    connections: list[Client],
) -> None:
    room = f"r-{secrets.token_hex(4)}"
    first, second = batch_instances(connections)
    batch = [draft(room, f"m-{i}") for i in range(5)]
    original = await first.publish_batch(batch)
    retried = await second.publish_batch([*batch, draft(room, "new")])
    assert retried[:5] == original
    assert [m.seq for m in retried if isinstance(m, ChatMessage)] == [1, 2, 3, 4, 5, 6]
    last = (
        await connections[0].jetstream().get_last_msg(streams.CHAT.name, subjects.chat_room(room))
    )
    assert ChatMessage.decode(last.data or b"").seq == 6


async def test_a_batch_beside_single_publishes_to_the_same_room_stays_gap_free(
    connections: list[Client],
) -> None:
    room = f"r-{secrets.token_hex(4)}"
    batching, single = batch_instances(connections)
    batched, *singles = await asyncio.gather(
        batching.publish_batch([draft(room, f"b-{i}") for i in range(20)]),
        *(single.publish(draft(room, f"s-{i}")) for i in range(20)),
    )
    assert isinstance(batched, list)
    seqs = [m.seq for m in [*batched, *singles] if isinstance(m, ChatMessage)]
    assert sorted(seqs) == list(range(1, 41))
