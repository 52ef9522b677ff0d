"""Persistence throughput: chat messages per second written to PostgreSQL, acked after commit.

The CHAT stream is filled first (pipelined JetStream publishes of valid ``ChatMessage`` payloads
with ``Nats-Msg-Id`` and a ``traceparent``, as chat publishes them); then the persistence service
starts and drains it. Rows committed are counted while it runs; each sample also reads the
consumer's ack floor first, so a message acked before its row was committed would show as
``acked > rows``. At the end every message must be in PostgreSQL exactly once and acked.
"""

import asyncio
import time
import uuid
from dataclasses import dataclass, field

import asyncpg
import nats
from nats.js import JetStreamContext
from nats.js.api import PubAck
from switchboard_contracts import ChatMessage, streams, subjects
from switchboard_runtime.messaging.bus import ensure_stream

from switchboard_bench.context import BenchContext
from switchboard_bench.drain import DrainSample, drain_rate
from switchboard_bench.profile import recording
from switchboard_bench.results import ScenarioResult, Target
from switchboard_bench.system_stack import CpuMeter, SystemStores, pin, system_stores

__all__ = ["run"]

TARGET_PER_SECOND = 20_000
ROOMS = 1000
CONTENT = "a chat message of typical length, with a few words and nothing special in it" * 2
DRAIN_TIMEOUT_SECONDS = 180.0
SAMPLE_SECONDS = 0.1
SAMPLED_ONE_IN = 100


@dataclass
class Drain:
    samples: list[DrainSample] = field(default_factory=list)
    acked_before_commit: int = 0
    """Samples where the ack floor was above the rows committed (must stay 0)."""


def messages(count: int) -> list[ChatMessage]:
    now = int(time.time() * 1000)
    return [
        ChatMessage(
            id=str(uuid.uuid4()),
            room=f"room-{i % ROOMS}",
            seq=i // ROOMS + 1,
            sender_id=f"user-{i % 997}",
            sender_name="Bench User",
            client_msg_id=f"c-{i}",
            content=CONTENT,
            timestamp=now + i,
        )
        for i in range(count)
    ]


def traceparent(n: int) -> str:
    """The trace context chat's publish carries: a trace of its own per message (the gateway
    starts one per send), recorded for one in 100 (the default ``OTEL_TRACES_SAMPLER_ARG``)."""
    return f"00-{n:032x}-{n:016x}-{'01' if n % SAMPLED_ONE_IN == 0 else '00'}"


async def fill(js: JetStreamContext, batch: list[ChatMessage]) -> float:
    """Publish pipelined (acks awaited in windows); returns messages per second."""
    started = time.perf_counter()
    window: list[asyncio.Future[PubAck]] = []
    for n, message in enumerate(batch, start=1):
        future = await js.publish_async(
            subjects.chat_room(message.room),
            message.encode(),
            stream=streams.CHAT.name,
            headers={"Nats-Msg-Id": message.id, "traceparent": traceparent(n)},
        )
        window.append(future)
        if len(window) >= 2000:
            await asyncio.gather(*window)
            window.clear()
    await asyncio.gather(*window)
    return len(batch) / (time.perf_counter() - started)


async def watch(js: JetStreamContext, db: asyncpg.Connection, total: int) -> Drain:
    drain = Drain()
    deadline = time.monotonic() + DRAIN_TIMEOUT_SECONDS
    consumer = streams.PERSISTENCE_CHAT_CONSUMER
    while time.monotonic() < deadline:
        try:
            info = await js.consumer_info(consumer.stream, consumer.durable)
            acked = info.ack_floor.stream_seq if info.ack_floor else 0
        except nats.js.errors.NotFoundError:
            acked = 0
        rows = int(await db.fetchval("SELECT count(*) FROM chat_messages"))
        if (acked or 0) > rows:
            drain.acked_before_commit += 1
        drain.samples.append(DrainSample(time.perf_counter(), rows))
        if rows >= total:
            return drain
        await asyncio.sleep(SAMPLE_SECONDS)
    return drain


async def all_acked(js: JetStreamContext, timeout: float = 10.0) -> tuple[int, int, int]:
    """(ack pending, pending, redelivered) once nothing is pending, or at the timeout."""
    consumer = streams.PERSISTENCE_CHAT_CONSUMER
    deadline = time.monotonic() + timeout
    while True:
        info = await js.consumer_info(consumer.stream, consumer.durable)
        state = (info.num_ack_pending or 0, info.num_pending or 0, info.num_redelivered or 0)
        if state[:2] == (0, 0) or time.monotonic() > deadline:
            return state
        await asyncio.sleep(0.1)


async def wait_for_table(dsn: str, timeout: float = 60.0) -> asyncpg.Connection:
    deadline = time.monotonic() + timeout
    db = await asyncpg.connect(dsn)
    while time.monotonic() < deadline:
        if await db.fetchval("SELECT to_regclass('chat_messages') IS NOT NULL"):
            return db
        await asyncio.sleep(0.05)
    await db.close()
    raise TimeoutError("persistence did not create chat_messages")


def run(ctx: BenchContext) -> ScenarioResult:
    total = 5_000 if ctx.quick else 100_000
    work = ctx.work_dir / "persistence"
    with system_stores(work, nats_core=ctx.loadgen_core, postgres_core=ctx.loadgen_core) as stores:
        return asyncio.run(_run(ctx, stores, total))


async def _run(ctx: BenchContext, stores: SystemStores, total: int) -> ScenarioResult:
    nc = await nats.connect(stores.nats_urls)
    js = nc.jetstream(publish_async_max_pending=4000)
    await ensure_stream(js, streams.CHAT)
    await ensure_stream(js, streams.NOTIFY)
    batch = messages(total)
    nats_meter = CpuMeter({"nats": stores.nats_pids[0]})
    nats_meter.start()
    fill_rate = await fill(js, batch)
    fill_nats_us = nats_meter.stop()["nats"] / total * 1e6
    stack = stores.stack()
    persistence = stack.add("persistence")
    persistence.start()
    pin(persistence.process.pid, ctx.server_core)
    meter = CpuMeter(
        {
            "persistence": persistence.process.pid,
            "postgres": stores.postgres.pid,
            "nats": stores.nats_pids[0],
        }
    )
    try:
        db = await wait_for_table(stores.database_url)
        profile = ctx.profile_path("persistence") if ctx.profile else None
        with recording(persistence.process.pid, profile):
            meter.start()
            drain = await watch(js, db, total)
            cpu = meter.stop()
        ack_pending, pending, redelivered = await all_acked(js)
        stored = await db.fetch("SELECT id FROM chat_messages")
        await db.close()
    finally:
        stack.stop()
        await nc.close()
    stored_ids = [row["id"] for row in stored]
    exactly_once = len(stored_ids) == len(set(stored_ids)) and set(stored_ids) == {
        m.id for m in batch
    }
    rate = drain_rate(drain.samples, total)
    seconds = drain.samples[-1].at - drain.samples[0].at if drain.samples else 0.0
    cpu_per_message_us = {name: used / total * 1e6 for name, used in cpu.items()}
    met = rate >= TARGET_PER_SECOND and exactly_once and drain.acked_before_commit == 0
    limit = ""
    own_us = cpu_per_message_us.get("persistence", 0.0)
    ceiling = 1e6 / own_us if own_us else 0.0
    if not exactly_once or drain.acked_before_commit:
        limit = "not every message was stored exactly once, acked after its commit"
    elif not met and ceiling < TARGET_PER_SECOND:
        limit = (
            f"persistence's own CPU: {own_us:.1f} µs per message (decode, one INSERT per batch,"
            f" acks), at most {ceiling:,.0f}/s on a core of its own"
        )
    elif not met:
        limit = (
            f"not persistence's CPU ({own_us:.1f} µs per message: {ceiling:,.0f}/s on a free"
            " core): its core was shared in this run, or it waited on PostgreSQL and NATS"
            f" ({cpu_per_message_us.get('postgres', 0.0):.1f} and"
            f" {cpu_per_message_us.get('nats', 0.0):.1f} µs per message on the other core)"
        )
    return ScenarioResult(
        scenario="persistence",
        title="Persistence throughput",
        method=(
            f"The `CHAT` stream is filled with {total:,} valid chat messages in {ROOMS} rooms"
            " (pipelined JetStream publishes with `Nats-Msg-Id` and a `traceparent`, one in"
            f" {SAMPLED_ONE_IN} recorded, as chat publishes them); then the"
            " persistence service starts and drains it through its durable pull consumer into"
            " `chat_messages`. Rows committed are counted every"
            f" {SAMPLE_SECONDS * 1000:.0f} ms, each time after reading the consumer's ack floor"
            " (an ack before its commit would show as more acked than stored). Persistence is"
            f" pinned to core {ctx.server_core}; PostgreSQL (fsync on) and NATS to core"
            f" {ctx.loadgen_core}."
        ),
        columns=["messages", "drain seconds", "messages/s", "exactly once", "acked > stored"],
        rows=[[total, round(seconds, 2), round(rate), exactly_once, drain.acked_before_commit]],
        targets=[
            Target(
                name="Persistence throughput",
                goal=f">= {TARGET_PER_SECOND:,} chat messages/s into PostgreSQL, acked after"
                " commit, each stored once",
                measured=f"{rate:,.0f} messages/s"
                + ("" if exactly_once else ", NOT exactly once")
                + (
                    ""
                    if drain.acked_before_commit == 0
                    else f", {drain.acked_before_commit} samples acked before commit"
                ),
                met=met,
                limit=limit,
            )
        ],
        notes=[
            f"Stream filled at {fill_rate:,.0f} messages/s by the benchmark (one Python client);"
            f" NATS spent {fill_nats_us:.1f} µs of CPU per message stored (R1, file storage).",
            "CPU per message written: "
            + ", ".join(f"{name} {us:.1f} µs" for name, us in cpu_per_message_us.items())
            + ".",
            f"After the drain: {ack_pending} unacked, {pending} undelivered,"
            f" {redelivered} redelivered.",
        ],
        data={
            "messages": total,
            "messages_per_second": rate,
            "drain_seconds": seconds,
            "cpu_seconds": cpu,
            "cpu_us_per_message": cpu_per_message_us,
            "exactly_once": exactly_once,
            "acked_before_commit_samples": drain.acked_before_commit,
            "fill_per_second": fill_rate,
            "nats_us_per_publish": fill_nats_us,
        },
    )
