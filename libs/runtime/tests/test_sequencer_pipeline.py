"""``SubjectSequencer.publish_many`` on a real JetStream: pipelined entries end exactly as if
published one by one: gap-free positions, each stored once, a conflict or a lost ack resolved."""

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import nats
import pytest
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import StreamConfig
from nats.js.errors import APIError, NoStreamResponseError
from switchboard_contracts import BusMessage
from switchboard_devstack.stores import Stores
from switchboard_runtime.messaging.sequencer import Entry, SubjectSequencer
from switchboard_runtime.messaging.stream_pipeline import AckBatch, StreamAck, StreamPipeline

pytestmark = pytest.mark.component


class Item(BusMessage):
    id: str
    position: int


@dataclass(frozen=True)
class Stream:
    js: JetStreamContext
    pipeline: StreamPipeline
    name: str

    def subject(self, key: str) -> str:
        return f"{self.name.lower()}.{key}"


@pytest.fixture
async def stream(stores: Stores) -> AsyncIterator[Stream]:
    """A stream of this test's own."""
    client = await nats.connect(stores.nats_url)
    created = Stream(
        client.jetstream(), StreamPipeline(client), f"PIPE{secrets.token_hex(3).upper()}"
    )
    await created.js.add_stream(
        StreamConfig(name=created.name, subjects=[created.subject(">")], allow_direct=True)
    )
    yield created
    await created.js.delete_stream(created.name)
    await client.close()


async def nothing_stored(key: str) -> int:
    del key
    return 0


def sequencer(
    stream: Stream,
    conflicts: list[str] | None = None,
    *,
    stored_last: Callable[[str], Awaitable[int]] = nothing_stored,
    stored_last_many: Callable[[list[str]], Awaitable[dict[str, int]]] | None = None,
) -> SubjectSequencer[Item]:
    return SubjectSequencer(
        stream.js,
        stream.name,
        Item,
        field="position",
        subject_of=stream.subject,
        stored_last=stored_last,
        pipeline=stream.pipeline,
        stored_last_many=stored_last_many,
        on_conflict=lambda: (conflicts if conflicts is not None else []).append("conflict"),
    )


def entries(keys: list[str], tag: str) -> list[Entry[Item]]:
    return [Entry(key, Item(id=f"{tag}-{key}", position=0), f"{tag}-{key}") for key in keys]


async def stored_positions(stream: Stream, keys: list[str]) -> dict[str, list[int]]:
    """Each key's positions as the stream holds them, in stream order."""
    found: dict[str, list[int]] = {key: [] for key in keys}
    info = await stream.js.stream_info(stream.name)
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        raw = await stream.js.get_msg(stream.name, seq)
        assert raw.subject is not None
        assert raw.data is not None
        found[raw.subject.rsplit(".", 1)[1]].append(Item.decode(raw.data).position)
    return found


async def test_known_and_new_keys_get_gap_free_positions_in_order(stream: Stream) -> None:
    ordering = sequencer(stream)
    keys = [f"k{n:03d}" for n in range(300)]
    first = await ordering.publish_many(entries(keys[:200], "a"), concurrency=8)
    assert [item.position for item in first] == [1] * 200
    assert stream.pipeline.sent == 0  # no head known yet: each published alone
    # 200 heads now cached (pipelined), 100 new (one by one): both kinds in one call
    second = await ordering.publish_many(entries(keys, "b"), concurrency=8)
    assert stream.pipeline.sent == 200
    assert [item.id for item in second] == [f"b-{key}" for key in keys]
    assert [item.position for item in second] == [2] * 200 + [1] * 100
    assert await stored_positions(stream, keys) == {
        key: [1, 2] if n < 200 else [1] for n, key in enumerate(keys)
    }


async def test_unknown_heads_are_read_in_one_go_from_the_stream_and_the_older_store(
    stream: Stream,
) -> None:
    """A fresh sequencer (a restarted service): the heads of keys it has not cached come from
    one read of the stream and one of the store, never a read per key; then all are pipelined."""
    await sequencer(stream).publish_many(entries(["in-stream"], "a"), concurrency=1)
    asked: list[list[str]] = []

    async def stored_last_many(keys: list[str]) -> dict[str, int]:
        asked.append(sorted(keys))
        return {"only-stored": 7}  # older entries, gone from the stream, kept elsewhere

    async def no_reads_one_by_one(key: str) -> int:
        raise AssertionError(f"{key}'s head read on its own")

    fresh = sequencer(stream, stored_last=no_reads_one_by_one, stored_last_many=stored_last_many)
    keys = ["in-stream", "only-stored", "new"]
    stored = await fresh.publish_many(entries(keys, "b"), concurrency=1)
    assert [item.position for item in stored] == [2, 8, 1]
    assert asked == [["new", "only-stored"]]
    assert stream.pipeline.sent == 3


async def test_another_writer_first_is_a_conflict_resolved_per_key(stream: Stream) -> None:
    conflicts: list[str] = []
    ours, theirs = sequencer(stream, conflicts), sequencer(stream)
    keys = ["x", "y", "z"]
    await ours.publish_many(entries(keys, "a"), concurrency=2)
    await theirs.publish("y", Item(id="other", position=0), "other-y")  # ours' head is stale
    again = await ours.publish_many(entries(keys, "b"), concurrency=2)
    assert [item.position for item in again] == [2, 3, 2]
    assert conflicts == ["conflict"]
    assert await stored_positions(stream, keys) == {"x": [1, 2], "y": [1, 2, 3], "z": [1, 2]}


async def test_an_entry_already_stored_whose_ack_was_lost_is_returned_not_stored_again(
    stream: Stream,
) -> None:
    """The batch's first attempt for "y" landed, but its answer never came (sent here directly,
    exactly as the sequencer sends it): taken again, "y" is answered by the original."""
    ordering = sequencer(stream)
    keys = ["x", "y"]
    await ordering.publish_many(entries(keys, "a"), concurrency=2)
    head = await stream.js.get_last_msg(stream.name, stream.subject("y"))
    await stream.js.publish(
        stream.subject("y"),
        Item(id="b-y", position=2).encode(),
        stream=stream.name,
        headers={"Nats-Msg-Id": "b-y", "Nats-Expected-Last-Subject-Sequence": str(head.seq)},
    )
    taken_again = await ordering.publish_many(entries(keys, "b"), concurrency=2)
    assert taken_again == [Item(id="b-x", position=2), Item(id="b-y", position=2)]
    assert await stored_positions(stream, keys) == {"x": [1, 2], "y": [1, 2]}


async def test_a_batch_repeated_stores_nothing_twice(stream: Stream) -> None:
    ordering = sequencer(stream)
    keys = [f"k{n}" for n in range(50)]
    await ordering.publish_many(entries(keys, "a"), concurrency=4)
    once = await ordering.publish_many(entries(keys, "b"), concurrency=4)
    twice = await ordering.publish_many(entries(keys, "b"), concurrency=4)  # a job taken again
    assert twice == once
    assert await stored_positions(stream, keys) == {key: [1, 2] for key in keys}


async def test_two_entries_for_one_key_are_refused(stream: Stream) -> None:
    with pytest.raises(ValueError, match="one entry per key"):
        await sequencer(stream).publish_many(
            entries(["x"], "a") + entries(["x"], "b"), concurrency=1
        )


async def test_the_pipeline_passes_on_refusals_and_silence(stream: Stream) -> None:
    wrong_stream = await stream.pipeline.publish(
        stream.subject("a"), b"x", stream="NOT-THIS-ONE", headers={}
    )
    nobody = await stream.pipeline.publish("no.stream.here", b"x", stream=stream.name, headers={})
    stored = await stream.pipeline.publish(
        stream.subject("a"), b"x", stream=stream.name, headers={}
    )
    async with asyncio.timeout(5):
        await asyncio.wait([wrong_stream, nobody, stored])
    assert isinstance(wrong_stream.exception(), APIError)
    assert isinstance(nobody.exception(), NoStreamResponseError)
    assert stored.result() == StreamAck(stream.name, 1, duplicate=False)


async def test_a_batch_waits_no_longer_than_its_timeout_and_forgets_what_got_no_answer(
    stream: Stream, stores: Stores
) -> None:
    listener = await nats.connect(stores.nats_url)
    try:
        await listener.subscribe("silent.nobody-answers", cb=ignore)  # no JetStream behind it
        await listener.flush()
        answers = AckBatch()
        stored = await stream.pipeline.publish(
            stream.subject("a"), b"x", stream=stream.name, headers={}, batch=answers
        )
        silent = await stream.pipeline.publish(
            "silent.nobody-answers", b"x", stream=stream.name, headers={}, batch=answers
        )
        async with asyncio.timeout(5):
            await answers.wait(0.5)
        assert stored.result().seq == 1
        assert not silent.done()
        stream.pipeline.forget([silent])
        assert silent.cancelled()
        assert stream.pipeline.waiting == 0
    finally:
        await listener.close()


async def ignore(msg: Msg) -> None:
    del msg
