"""The write side of a broadcast: the CPU notification, NATS, persistence and PostgreSQL spend
from the broadcast request until what it stores is stored, for issue 19's "the write side of a
broadcast costs the same for 10 users or 1,000,000" (``sse_fanout`` measures it for everyone and
for a team of 10).

A broadcast is one ``NOTIFY`` entry for its whole audience (``notify.audience.all`` or
``notify.audience.team.<team>``), whoever it reaches: ``entries`` is what it stores (1),
``recipients`` the users it reaches. (Results saved before broadcasts were stored once per
audience have one entry per recipient and no ``recipients``.)

Stored: persistence's ``NOTIFY`` consumer has acked, after its commit, every stream sequence up
to the last entry expected. ``NOTIFY`` holds nothing but inbox entries (users' own and
audiences' broadcasts) and the benchmark sends nothing else meanwhile, so that is every entry
the broadcast stored, in the stream and in PostgreSQL. The CPU is read to the nanosecond
(``process_runtime_seconds``): a team's broadcast uses a few ms, below the clock ticks
``process_cpu_seconds`` counts.
"""

import asyncio
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

import nats
from switchboard_contracts import streams

from switchboard_bench.system_stack import CpuMeter, process_runtime_seconds

__all__ = ["WRITE_PROCESSES", "WriteSide", "measure_write", "notify_last_seq", "write_meter"]

WRITE_PROCESSES = ("notification", "nats", "persistence", "postgres")
"""The processes a broadcast's write side runs in (the gateway only accepts the request)."""
POLL_SECONDS = 0.02
"""How often persistence's progress is read: the stored time's resolution (each read is one
consumer-info request, a few µs of NATS CPU, inside the window measured)."""


@dataclass(frozen=True)
class WriteSide:
    """One broadcast's write side."""

    cpu_seconds: dict[str, float]
    """Per process of ``WRITE_PROCESSES``, from the request until stored (or the timeout)."""
    stored_ms: float
    """From the request until every entry it stores was stored; NaN when they were not within
    the timeout."""
    entries: int
    """The ``NOTIFY`` entries the broadcast stores: one for its audience."""
    recipients: int
    """The users it reaches (its audience's members)."""
    window_ms: float = math.nan
    """How long the CPU was counted: until stored, or longer when the window was held to
    another broadcast's (``measure_write``'s ``window_ms``)."""

    @property
    def complete(self) -> bool:
        return not math.isnan(self.stored_ms)

    def as_data(self) -> dict[str, object]:
        return {
            "cpu_seconds": self.cpu_seconds,
            "stored_ms": None if math.isnan(self.stored_ms) else self.stored_ms,
            "entries": self.entries,
            "recipients": self.recipients,
            "window_ms": None if math.isnan(self.window_ms) else self.window_ms,
            "complete": self.complete,
        }


def write_meter(pids: Mapping[str, int | None]) -> CpuMeter:
    """A meter of ``WRITE_PROCESSES`` (names as in ``pids``), to the nanosecond."""
    return CpuMeter({name: pids[name] for name in WRITE_PROCESSES}, read=process_runtime_seconds)


async def notify_last_seq(nats_urls: list[str]) -> int:
    nc = await nats.connect(nats_urls)
    try:
        info = await nc.jetstream().stream_info(streams.NOTIFY.name)
        return int(info.state.last_seq)
    finally:
        await nc.close()


async def _stored_at(nats_urls: list[str], last_seq: int, timeout: float) -> float | None:
    """When (epoch ms) persistence had acked every ``NOTIFY`` entry up to ``last_seq``; None
    when it had not within ``timeout`` seconds."""
    nc = await nats.connect(nats_urls)
    try:
        js = nc.jetstream()
        deadline = time.monotonic() + timeout
        consumer = streams.PERSISTENCE_NOTIFY_CONSUMER
        while time.monotonic() < deadline:
            info = await js.consumer_info(consumer.stream, consumer.durable)
            if info.ack_floor is not None and info.ack_floor.stream_seq >= last_seq:
                return time.time() * 1000
            await asyncio.sleep(POLL_SECONDS)
        return None
    finally:
        await nc.close()


def measure_write(
    meter: CpuMeter,
    nats_urls: list[str],
    after_seq: int,
    sent_at: float,
    timeout: float,
    *,
    entries: int,
    recipients: int,
    window_ms: float | None = None,
) -> WriteSide:
    """Wait until the broadcast's ``entries`` entries after ``after_seq`` are stored, then stop
    ``meter`` (started before the request, sent at ``sent_at`` epoch ms); ``recipients``, the
    users it reaches, is saved beside them. ``window_ms``: count the CPU for at least that long
    after the request, so that broadcasts compared count the processes' background work over
    windows of one length."""
    stored = asyncio.run(_stored_at(nats_urls, after_seq + entries, timeout))
    if window_ms is not None:
        time.sleep(max(0.0, (sent_at + window_ms) / 1000 - time.time()))
    cpu = meter.stop()
    window = time.time() * 1000 - sent_at
    return WriteSide(
        dict(cpu), math.nan if stored is None else stored - sent_at, entries, recipients, window
    )
