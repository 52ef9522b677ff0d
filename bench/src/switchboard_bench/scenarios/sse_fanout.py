"""SSE fan-out: 10,000 notification streams on one gateway, one global broadcast, time to each.

The whole system runs (five services, NATS, PostgreSQL) with auth on: every stream has a token
of its own user. A Node.js client (``bench/js/sse-loadgen.mjs``) holds the streams; the broadcast
goes through the public HTTP API with a service token. Notification stores it once for its
audience (one ``NOTIFY`` entry on ``notify.audience.all``, not one per user); the gateway
subscribes once per audience and hands each local member's stream a copy. So the time measured
is the broadcast request to each stream's event: accepting the job, notification taking it and
publishing the one entry, its republish to the gateway (one NATS message), and the gateway's
SSE write to every stream. The first broadcast follows the streams' opening; then
``MEASURED_ROUNDS`` more, the steady state: one broadcast's figures move with what else the core
does in its quarter of a second, so the measured broadcast is their median by p99 (kept as
``second broadcast`` in the saved figures), and the gateway's CPU per event is the median of
theirs (``gateway_us_per_event``, its kernel part beside it).

Then the write side of a broadcast at two audience sizes (issue 19: one stored message per
audience, not one per user): the CPU of notification, NATS, persistence and PostgreSQL from the
request until its entry is stored (``broadcast_write``), for the measured broadcast to everyone
and for broadcasts to a team of the first ``TEAM_SIZE`` streams' users (their tokens name
``TEAM``), ``TEAM_ROUNDS`` of them one after another (a few ms of CPU each: their median).
"""

import asyncio
import math
import secrets
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import nats
import psutil
from switchboard_contracts import streams
from switchboard_devstack.tokens import mint

from switchboard_bench.broadcast_write import (
    WRITE_PROCESSES,
    WriteSide,
    measure_write,
    notify_last_seq,
    write_meter,
)
from switchboard_bench.context import BenchContext
from switchboard_bench.latency import LatencySummary, summarise
from switchboard_bench.node_loadgen import NodeLoadgen
from switchboard_bench.profile import recording
from switchboard_bench.results import ScenarioResult, Target
from switchboard_bench.system_stack import CpuMeter, SystemStores, pin, system_stores

__all__ = ["run"]


@dataclass(frozen=True)
class Round:
    """One broadcast: arrivals, CPU, and when its entries were stored in ``NOTIFY`` (ms after the
    request): ``entries`` of them (one for its audience) for ``write.recipients`` users."""

    summary: LatencySummary
    cpu: dict[str, float]
    accepted_ms: float
    first_written_ms: float
    last_written_ms: float
    entries: int
    write: WriteSide
    gateway_kernel_seconds: float = math.nan
    """The gateway's system (kernel) CPU in ``cpu``'s window."""


TARGET_P99_MS = 1000.0
CONNECT_TIMEOUT_SECONDS = 300.0
DELIVERY_TIMEOUT_SECONDS = 60.0
TEAM = "bench-ten"
TEAM_SIZE = 10
TEAM_ROUNDS = 5
MEASURED_ROUNDS = 5
FIRST = "first broadcast"
MEASURED = "second broadcast"
"""The saved name of the measured broadcast (the median of the measured rounds by p99)."""
ENTRIES_PER_BROADCAST = 1
"""What a broadcast stores in ``NOTIFY``, whatever its audience: one entry."""


def _token(secret: str, sub: str, **claims: str) -> str:
    """An hour's token signed with this run's secret (the gateway checks no audience or issuer)."""
    return mint(sub, ttl=3600, key=secret, aud=None, iss=None, **claims)


async def _known_users(database_url: str, at_least: int, timeout: float = 30.0) -> int:
    db = await asyncpg.connect(database_url)
    try:
        deadline = time.monotonic() + timeout
        while True:
            known = int(await db.fetchval("SELECT count(*) FROM notification_users"))
            if known >= at_least or time.monotonic() > deadline:
                return known
            await asyncio.sleep(0.2)
    finally:
        await db.close()


async def _written(nats_urls: list[str], after_seq: int) -> tuple[float, float, int]:
    """When NOTIFY stored the first and the last entry after ``after_seq`` (epoch ms), and how
    many entries that was: what the broadcast stored (its one entry for its audience), apart
    from the delivery."""
    nc = await nats.connect(nats_urls)
    try:
        js = nc.jetstream()
        last = int((await js.stream_info(streams.NOTIFY.name)).state.last_seq)
        if last <= after_seq:
            return math.nan, math.nan, 0
        first_msg = await js.get_msg(streams.NOTIFY.name, after_seq + 1)
        last_msg = await js.get_msg(streams.NOTIFY.name, last)
        assert first_msg.time is not None
        assert last_msg.time is not None
        return (
            first_msg.time.timestamp() * 1000,
            last_msg.time.timestamp() * 1000,
            last - after_seq,
        )
    finally:
        await nc.close()


def run(ctx: BenchContext) -> ScenarioResult:
    streams = 50 if ctx.quick else 10_000
    work = ctx.work_dir / "sse_fanout"
    with system_stores(work, nats_core=ctx.loadgen_core, postgres_core=ctx.loadgen_core) as stores:
        return _run(ctx, stores, streams, work)


def _run(ctx: BenchContext, stores: SystemStores, count: int, work: Path) -> ScenarioResult:
    secret = secrets.token_hex(32)
    stack = stores.stack(env={"AUTH_ENABLED": "true", "JWT_SECRET": secret})
    stack.add_all()
    try:
        stack.start()
        pids = {label: handle.process.pid for label, handle in stack.services.items()}
        for label, pid in pids.items():
            pin(pid, ctx.server_core if label == "gateway" else ctx.loadgen_core)
        gateway = stack["gateway"]
        tokens = work / "tokens.txt"
        tokens.write_text(
            "".join(
                _token(secret, f"sse-{i:05d}", **({"teams": TEAM} if i < TEAM_SIZE else {})) + "\n"
                for i in range(count)
            )
        )
        service_token = _token(secret, "bench", scope="notifications:broadcast")
        loadgen = NodeLoadgen(
            "sse-loadgen.mjs",
            {
                "url": f"{gateway.url}/api/notifications/stream",
                "tokensFile": str(tokens),
                "concurrency": 100,
            },
            ctx.loadgen_core,
        )
        meter = CpuMeter(
            {
                "loadgen": loadgen.pid,
                **pids,
                "nats": stores.nats_pids[0],
                "postgres": stores.postgres.pid,
            }
        )
        writes = write_meter(meter.pids)
        try:
            meter.start()
            connected = loadgen.report("connected", CONNECT_TIMEOUT_SECONDS)
            connect_cpu = meter.stop()
            known = asyncio.run(_known_users(stores.database_url, connected["ok"]))
            rounds: dict[str, Round] = {}
            titles = [FIRST, *(f"measured {n}" for n in range(1, MEASURED_ROUNDS + 1))]
            for title in titles:
                profiled = ctx.profile and title == titles[1]
                with (
                    recording(
                        gateway.process.pid, ctx.profile_path("sse_gateway") if profiled else None
                    ),
                    recording(
                        stack["notification"].process.pid,
                        ctx.profile_path("sse_notification") if profiled else None,
                    ),
                    recording(
                        stack["persistence"].process.pid,
                        ctx.profile_path("sse_persistence") if profiled else None,
                    ),
                ):
                    rounds[title] = _broadcast(
                        loadgen,
                        (meter, writes),
                        (gateway.url, service_token),
                        title,
                        stores.nats_urls,
                        count,
                    )
            # the team's windows as long as everyone's: background work weighs alike in both
            window = _median_round(rounds).write.window_ms
            team = [
                _team_broadcast(writes, (gateway.url, service_token), n, stores.nats_urls, window)
                for n in range(TEAM_ROUNDS)
            ]
        finally:
            loadgen.close()
    finally:
        stack.stop()
    return _result(ctx, count, connected, connect_cpu, known, rounds, team)


def _post(api: tuple[str, str], body: dict[str, str]) -> None:
    """``POST /api/notifications/broadcast`` at ``api`` (the gateway's url, a service token)."""
    url, token = api
    answer = httpx.post(
        f"{url}/api/notifications/broadcast",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=DELIVERY_TIMEOUT_SECONDS,
    )
    answer.raise_for_status()


def _broadcast(  # noqa: PLR0917
    loadgen: NodeLoadgen,
    meters: tuple[CpuMeter, CpuMeter],
    api: tuple[str, str],
    title: str,
    nats_urls: list[str],
    recipients: int,
) -> Round:
    """A broadcast to everyone (``recipients`` users, one stream each): its arrivals and CPU
    until every stream has it (``meter``), and its write side until its one entry is stored
    (``writes``, read meanwhile)."""
    meter, writes = meters
    gateway = psutil.Process(meter.pids["gateway"])
    before = asyncio.run(notify_last_seq(nats_urls))
    loadgen.send({"expect": title, "timeoutMs": DELIVERY_TIMEOUT_SECONDS * 1000})
    kernel_before = gateway.cpu_times().system
    meter.start()
    writes.start()
    sent_at = time.time() * 1000
    _post(api, {"type": "info", "title": title, "message": "to everyone"})
    accepted_ms = time.time() * 1000 - sent_at
    with ThreadPoolExecutor(1) as pool:
        storing = pool.submit(
            measure_write,
            writes,
            nats_urls,
            before,
            sent_at,
            DELIVERY_TIMEOUT_SECONDS,
            entries=ENTRIES_PER_BROADCAST,
            recipients=recipients,
        )
        received = loadgen.report("received", DELIVERY_TIMEOUT_SECONDS + 10)
        cpu = meter.stop()
        kernel = gateway.cpu_times().system - kernel_before
        write = storing.result()
    first, last, entries = asyncio.run(_written(nats_urls, before))
    return Round(
        summarise(sent_at, received["times"]),
        cpu,
        accepted_ms,
        first - sent_at,
        last - sent_at,
        entries,
        write,
        kernel,
    )


def _median_round(rounds: dict[str, Round]) -> Round:
    """The measured rounds' median by p99 (the only one when there is one)."""
    measured = sorted(
        (r for title, r in rounds.items() if title != FIRST), key=lambda r: r.summary.p99_ms
    )
    return measured[len(measured) // 2]


def _us_per_event(r: Round, seconds: float) -> float:
    return seconds * 1e6 / max(1, r.summary.received)


def _team_broadcast(
    writes: CpuMeter, api: tuple[str, str], number: int, nats_urls: list[str], window_ms: float
) -> WriteSide:
    """A broadcast to ``TEAM`` (``TEAM_SIZE`` users): its write side until its one entry is
    stored."""
    before = asyncio.run(notify_last_seq(nats_urls))
    writes.start()
    sent_at = time.time() * 1000
    _post(api, {"team": TEAM, "type": "info", "title": f"team {number}", "message": "to a team"})
    return measure_write(
        writes,
        nats_urls,
        before,
        sent_at,
        DELIVERY_TIMEOUT_SECONDS,
        entries=ENTRIES_PER_BROADCAST,
        recipients=TEAM_SIZE,
        window_ms=None if math.isnan(window_ms) else window_ms,
    )


def _result(  # noqa: PLR0917 (one call site, every figure named)
    ctx: BenchContext,
    count: int,
    connected: dict[str, object],
    connect_cpu: dict[str, float],
    known: int,
    rounds: dict[str, Round],
    team: list[WriteSide],
) -> ScenarioResult:
    last = _median_round(rounds)
    measured, measured_cpu = last.summary, last.cpu
    steady = [r for title, r in rounds.items() if title != FIRST]
    per_event = statistics.median(_us_per_event(r, r.cpu.get("gateway", 0.0)) for r in steady)
    kernel_per_event = statistics.median(_us_per_event(r, r.gateway_kernel_seconds) for r in steady)
    all_received = measured.missing == 0 and connected["failed"] == 0
    met = all_received and measured.p99_ms < TARGET_P99_MS
    limit = ""
    if not all_received:
        limit = "not every stream received the broadcast"
    elif not met:
        # Two phases in series: storing the broadcast, then the gateway writing it to the streams.
        delivery_ms = measured.p99_ms - last.last_written_ms
        parts = []
        if last.last_written_ms > TARGET_P99_MS / 2:
            shared = {n: u for n, u in measured_cpu.items() if n != "gateway" and u >= 0.005}
            parts.append(
                f"storing the broadcast: {_entries_text(last.entries)} stored"
                f" {last.last_written_ms:,.0f} ms after the request, on a core that carried"
                f" {sum(shared.values()):.2f} s of CPU meanwhile ("
                + ", ".join(
                    f"{name} {used:.2f} s"
                    for name, used in sorted(shared.items(), key=lambda item: -item[1])
                )
                + ")"
            )
        if delivery_ms > TARGET_P99_MS / 2 or not parts:
            parts.append(
                f"the gateway's SSE delivery: p99 {delivery_ms:,.0f} ms after the broadcast"
                f" was stored, {per_event:,.0f} µs of gateway CPU per stream event"
            )
        limit = "; then ".join(parts)
    rows: list[list[str | int | float | None]] = []
    for title, r in rounds.items():
        rows.append(
            [
                f"{title} (median)" if r is last and len(steady) > 1 else title,
                r.summary.received,
                r.summary.missing,
                round(r.accepted_ms, 1),
                round(r.last_written_ms),
                round(r.summary.p50_ms),
                round(r.summary.p99_ms),
                round(r.summary.max_ms),
                round(r.cpu.get("gateway", 0.0), 2),
                round(r.cpu.get("notification", 0.0), 2),
                round(r.cpu.get("loadgen", 0.0), 2),
            ]
        )
    connect_seconds = float(str(connected["seconds"]))
    failures = f": {connected['errors']}" if connected["failed"] else ""
    return ScenarioResult(
        scenario="sse_fanout",
        title="SSE fan-out of a broadcast",
        method=(
            f"{count:,} concurrent notification SSE streams on one gateway, each with its own"
            " user's token (auth on), held by a Node.js client (`bench/js/sse-loadgen.mjs`,"
            f" built-in http) pinned to core {ctx.loadgen_core}; the gateway is pinned to core"
            f" {ctx.server_core}, everything else (NATS, PostgreSQL, chat, notification,"
            f" persistence, metrics-collector) to core {ctx.loadgen_core}. A global broadcast is"
            " posted to `POST /api/notifications/broadcast` with a service token; latency is"
            " from that request to each stream's `notification` event (wall clock, same host)."
            " Notification stores each broadcast once, one `NOTIFY` entry for its audience"
            " (`notify.audience.all`), and the gateway hands each member's stream a copy; the"
            f" first broadcast follows the streams' opening, {len(steady)} more are measured:"
            " the target is their median by p99."
        ),
        columns=[
            "broadcast",
            "received",
            "missing",
            "accept ms",
            "stored ms",
            "p50 ms",
            "p99 ms",
            "max ms",
            "gateway CPU s",
            "notification CPU s",
            "load generator CPU s",
        ],
        rows=rows,
        targets=[
            Target(
                name="SSE broadcast",
                goal=f"{count:,} streams on one gateway, all receive a broadcast, p99 < 1 s",
                measured=(
                    f"p99 {measured.p99_ms:,.0f} ms, {measured.received:,}/{count:,} received"
                    f" (p50 {measured.p50_ms:,.0f} ms, max {measured.max_ms:,.0f} ms)"
                ),
                met=met,
                limit=limit,
            )
        ],
        notes=[
            f"{connected['ok']:,} streams opened in {connect_seconds:.1f} s"
            f" ({connected['failed']} failed{failures});"
            f" {known:,} users known to broadcasts before the first one.",
            "CPU while the streams opened: "
            + ", ".join(f"{name} {used:.1f} s" for name, used in connect_cpu.items())
            + ".",
            f"Measured broadcast (the median of {len(steady)} by p99): {_stored_note(last)}."
            f" The gateway's CPU per stream event, median of the {len(steady)}:"
            f" {per_event:,.1f} µs (of it kernel {kernel_per_event:,.1f} µs; each: "
            + ", ".join(f"{_us_per_event(r, r.cpu.get('gateway', 0.0)):,.1f}" for r in steady)
            + ").",
            "Load generator CPU during the measured broadcast:"
            f" {measured_cpu.get('loadgen', 0.0):.2f} s, against the gateway's"
            f" {measured_cpu.get('gateway', 0.0):.2f} s.",
            f"CPU on core {ctx.loadgen_core} during the measured broadcast (to its last event,"
            f" {measured.max_ms / 1000:.2f} s): "
            + ", ".join(
                f"{name} {used:.2f} s"
                for name, used in sorted(measured_cpu.items(), key=lambda item: -item[1])
                if name != "gateway"
            )
            + f"; {sum(u for n, u in measured_cpu.items() if n != 'gateway'):.2f} s in all.",
            _write_note(last.write, team),
        ],
        data={
            "streams": count,
            "connect_seconds": connect_seconds,
            "connect_cpu_seconds": connect_cpu,
            "gateway_us_per_event": per_event,
            "gateway_kernel_us_per_event": kernel_per_event,
            "measured_rounds": len(steady),
            "broadcasts": {
                (MEASURED if r is last else title): {
                    "received": r.summary.received,
                    "missing": r.summary.missing,
                    "accept_ms": r.accepted_ms,
                    "first_entry_stored_ms": r.first_written_ms,
                    "last_entry_stored_ms": r.last_written_ms,
                    "entries": r.entries,
                    "recipients": r.write.recipients,
                    "p50_ms": r.summary.p50_ms,
                    "p99_ms": r.summary.p99_ms,
                    "max_ms": r.summary.max_ms,
                    "cpu_seconds": r.cpu,
                    "gateway_kernel_seconds": r.gateway_kernel_seconds,
                    "write": r.write.as_data(),
                }
                for title, r in rounds.items()
            },
            "team_broadcasts": {
                "team": TEAM,
                "recipients": TEAM_SIZE,
                "rounds": [write.as_data() for write in team],
            },
        },
    )


def _entries_text(entries: int) -> str:
    """What a broadcast stored, for a sentence: one entry for its audience, or several."""
    return "its entry" if entries == 1 else f"its {entries:,} entries"


def _stored_note(r: Round) -> str:
    """What the broadcast stored in ``NOTIFY``, for how many users, and when."""
    if r.entries == 0:
        return "nothing stored in NOTIFY after the request"
    if r.entries == 1:
        return (
            f"one NOTIFY entry for its {r.write.recipients:,} recipients, stored"
            f" {r.last_written_ms:,.0f} ms after the request"
        )
    return (
        f"{r.entries:,} NOTIFY entries for its {r.write.recipients:,} recipients, stored between"
        f" {r.first_written_ms:,.0f} and {r.last_written_ms:,.0f} ms after the request"
    )


def _write_note(everyone: WriteSide, team: list[WriteSide]) -> str:
    def cpu_ms(write: WriteSide) -> float:
        return sum(write.cpu_seconds.values()) * 1000

    def stored(write: WriteSide) -> str:
        return f"stored in {write.stored_ms:,.0f} ms" if write.complete else "not stored in time"

    def entries(write: WriteSide) -> str:
        return "1 entry" if write.entries == 1 else f"{write.entries:,} entries"

    middle = statistics.median(cpu_ms(w) for w in team) if team else math.nan
    team_entries = f", {entries(team[0])} each" if team else ""
    return (
        f"Write side of a broadcast ({', '.join(WRITE_PROCESSES)}; from the request until what it"
        f" stores was stored): to everyone ({everyone.recipients:,} users, {entries(everyone)})"
        f" {cpu_ms(everyone):,.1f} ms of CPU, {stored(everyone)}; to team `{TEAM}`"
        f" ({TEAM_SIZE} users{team_entries}), median of {len(team)}, {middle:,.2f} ms ("
        + "; ".join(f"{cpu_ms(w):,.2f} ms, {stored(w)}" for w in team)
        + ")."
    )
