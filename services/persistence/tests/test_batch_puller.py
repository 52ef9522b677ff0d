"""BatchPuller against a real JetStream consumer: full batches at once, what is there when less
is, nothing (after the timeout) when idle, and a message that arrives while it waits."""

import asyncio
import secrets
import time
from collections.abc import AsyncIterator

import pytest
from nats.aio.client import Client
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig
from switchboard_persistence.batch_puller import BatchPuller

pytestmark = pytest.mark.component


@pytest.fixture
async def puller(nc: Client) -> AsyncIterator[tuple[BatchPuller, str]]:
    name = f"T{secrets.token_hex(4)}"
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name=name, subjects=[f"{name}.>"]))
    await js.add_consumer(
        name, ConsumerConfig(durable_name="d", ack_policy=AckPolicy.EXPLICIT, ack_wait=30)
    )
    pulling = BatchPuller(nc, name, "d")
    await pulling.start()
    yield pulling, name
    await pulling.stop()
    await js.delete_stream(name)


async def publish(nc: Client, subject: str, count: int) -> None:
    js = nc.jetstream()
    for i in range(count):
        await js.publish(subject, str(i).encode())


async def until_the_server_holds_a_pull_request(nc: Client, name: str) -> None:
    """The fetch is waiting on the server (its no-wait request answered, the waiting one in)."""
    js = nc.jetstream()
    async with asyncio.timeout(5):
        while (await js.consumer_info(name, "d")).num_waiting == 0:  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_a_full_batch_comes_at_once_and_in_order(
    nc: Client, puller: tuple[BatchPuller, str]
) -> None:
    pulling, name = puller
    await publish(nc, f"{name}.a", 25)
    first = await pulling.fetch(10, timeout=1.0)
    second = await pulling.fetch(10, timeout=1.0)
    assert [m.data for m in first + second] == [str(i).encode() for i in range(20)]


async def test_fewer_than_a_batch_come_without_waiting_for_the_timeout(
    nc: Client, puller: tuple[BatchPuller, str]
) -> None:
    pulling, name = puller
    await publish(nc, f"{name}.a", 3)
    started = time.monotonic()
    batch = await pulling.fetch(100, timeout=5.0)
    assert len(batch) == 3
    assert time.monotonic() - started < 2.0


async def test_an_idle_consumer_gives_nothing_after_the_timeout(
    puller: tuple[BatchPuller, str],
) -> None:
    pulling, _ = puller
    started = time.monotonic()
    assert await pulling.fetch(100, timeout=1.0) == []
    assert 0.4 <= time.monotonic() - started < 3.0


async def test_a_message_published_while_waiting_is_fetched_and_acked_once(
    nc: Client, puller: tuple[BatchPuller, str]
) -> None:
    pulling, name = puller
    waiting = asyncio.create_task(pulling.fetch(100, timeout=3.0))
    await until_the_server_holds_a_pull_request(nc, name)
    await publish(nc, f"{name}.a", 1)
    [msg] = await asyncio.wait_for(waiting, 5.0)
    await msg.ack()
    await nc.flush()

    async def outstanding() -> tuple[int, int]:
        info = await nc.jetstream().consumer_info(name, "d")
        return info.num_ack_pending, info.num_pending

    # the server takes acks from a queue of the consumer's own: consumer info may predate it
    async with asyncio.timeout(5):
        while (counts := await outstanding()) != (0, 0):  # noqa: ASYNC110 (polling the server)
            await asyncio.sleep(0.01)
    assert counts == (0, 0)
    assert await pulling.fetch(100, timeout=1.0) == []
