"""The durable path's cost per event of each kind: a message, an edit, a reaction (issue 21).

Chat, persistence (and notification, as the write path runs them) on one core with NATS and
PostgreSQL, driven over the bus as a gateway drives them: messages in ``chat.cmd.send-batch``
requests every 3 ms, edits and reactions one ``chat.cmd.send`` each (a change goes to chat
alone, after the look-up of its target). Each kind runs at the same rate on the messages the
first phase stored; CPU per acked event of each process, over the phase and until persistence
has written it all.
"""

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import nats
import psutil
from nats.aio.client import Client
from switchboard_contracts import ChatSendReply, ChatSendRequest, streams, subjects
from switchboard_contracts.chat import ChatSendBatchReply, ChatSendBatchRequest, EventKind

from switchboard_bench.context import BenchContext
from switchboard_bench.results import Cell, ScenarioResult
from switchboard_bench.write_path import COMPONENTS, _cpu_seconds, _system

__all__ = ["KINDS", "run"]

RATE = 500
SECONDS = 8.0
ROOMS = 50
BATCH_INTERVAL_SECONDS = 0.003
PROCESSES = ("chat", "nats", "persistence", "postgres")


@dataclass(frozen=True)
class Kind:
    name: str
    kind: EventKind | None
    content: Callable[[int], str]


KINDS = (
    Kind("message", None, lambda n: f"message {n} of the event-cost benchmark"),
    Kind("edit", EventKind.EDIT, lambda n: f"message {n}, edited"),
    Kind("reaction", EventKind.REACT, lambda n: "👍"),
)


@dataclass
class Phase:
    sent: int = 0
    acked: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    stored: list[tuple[str, str, str]] = field(default_factory=list)
    """(room, user, message id) of each message acked (the first phase's: what the others
    change)."""

    def record(self, reply: ChatSendReply, elapsed_ms: float) -> None:
        if reply.message is not None:
            self.acked += 1
            self.latencies_ms.append(elapsed_ms)
            message = reply.message
            self.stored.append((message.room, message.sender_id, message.id))
        else:
            code = str(reply.error.code) if reply.error else "no answer"
            self.errors[code] = self.errors.get(code, 0) + 1


def _trace() -> dict[str, str]:
    return {"traceparent": f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-00"}


async def _messages(nc: Client, phase: Phase, count: int, run: str) -> None:
    """``count`` messages at RATE/s, gathered every BATCH_INTERVAL_SECONDS as a gateway does."""
    loop = asyncio.get_running_loop()
    begin = loop.time()
    tasks: list[asyncio.Task[None]] = []

    async def batch(first: int, last: int) -> None:
        requests = [
            ChatSendRequest(
                room=f"ec-{run}-{n % ROOMS}",
                user_id=f"user-{n % (ROOMS * 10)}",
                content=KINDS[0].content(n),
                client_msg_id=f"{run}-m{n}",
                first_attempt=True,
            )
            for n in range(first, last)
        ]
        started = time.perf_counter()
        msg = await nc.request(
            subjects.CHAT_SEND_BATCH,
            ChatSendBatchRequest(requests=requests).encode(),
            timeout=10,
            headers=_trace(),
        )
        elapsed = (time.perf_counter() - started) * 1000
        for reply in ChatSendBatchReply.decode(msg.data).replies:
            phase.record(reply, elapsed)

    while phase.sent < count:
        await asyncio.sleep(BATCH_INTERVAL_SECONDS)
        due = min(count, int((loop.time() - begin) * RATE))
        if due > phase.sent:
            tasks.append(asyncio.create_task(batch(phase.sent, due)))
            phase.sent = due
    await asyncio.gather(*tasks, return_exceptions=True)


async def _changes(
    nc: Client, phase: Phase, kind: Kind, targets: list[tuple[str, str, str]], run: str
) -> None:
    """One change of ``kind`` per target, at RATE/s, each its own request."""
    loop = asyncio.get_running_loop()
    begin = loop.time()
    tasks: list[asyncio.Task[None]] = []

    async def one(n: int, room: str, user: str, target: str) -> None:
        request = ChatSendRequest(
            room=room,
            user_id=user,
            content=kind.content(n),
            client_msg_id=f"{run}-{kind.name}{n}",
            kind=kind.kind,
            target_id=target,
            first_attempt=True,
        )
        started = time.perf_counter()
        try:
            msg = await nc.request(
                subjects.CHAT_SEND, request.encode(), timeout=10, headers=_trace()
            )
        except nats.errors.TimeoutError:
            phase.errors["timeout"] = phase.errors.get("timeout", 0) + 1
            return
        phase.record(ChatSendReply.decode(msg.data), (time.perf_counter() - started) * 1000)

    for n, (room, user, target) in enumerate(targets):
        delay = begin + n / RATE - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(n, room, user, target)))
        phase.sent += 1
    await asyncio.gather(*tasks, return_exceptions=True)


async def _drained(nc: Client, timeout: float = 60.0) -> bool:
    """Persistence has written (and acked) everything in CHAT."""
    js = nc.jetstream()
    spec = streams.PERSISTENCE_CHAT_CONSUMER
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = await js.consumer_info(spec.stream, spec.durable)
        if not info.num_pending and not info.num_ack_pending:
            return True
        await asyncio.sleep(0.05)
    return False


async def _phases(url: str, procs: dict[str, psutil.Process], count: int) -> list[dict[str, Any]]:
    nc = await nats.connect(url)
    run = uuid.uuid4().hex[:8]
    out: list[dict[str, Any]] = []
    targets: list[tuple[str, str, str]] = []
    try:
        for kind in KINDS:
            phase = Phase()
            before = _cpu_seconds(procs)
            started = time.perf_counter()
            if kind.kind is None:
                await _messages(nc, phase, count, run)
                targets = list(phase.stored)
            else:
                await _changes(nc, phase, kind, targets, run)
            drained = await _drained(nc)
            seconds = time.perf_counter() - started
            used = {k: v - before[k] for k, v in _cpu_seconds(procs).items()}
            out.append(_figures(kind.name, phase, used, seconds, drained))
    finally:
        await nc.close()
    return out


def _figures(
    name: str, phase: Phase, used: dict[str, float], seconds: float, drained: bool
) -> dict[str, Any]:
    acked = max(phase.acked, 1)
    lat = sorted(phase.latencies_ms)
    p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))] if lat else 0.0
    per = {k: used.get(k, 0.0) * 1e6 / acked for k in PROCESSES}
    return {
        "kind": name,
        "sent": phase.sent,
        "acked": phase.acked,
        "errors": phase.errors,
        "drained": drained,
        "seconds": seconds,
        "p99_ms": p99,
        "cpu_us_per_event": per,
        "total_us": sum(per.values()),
    }


def run(ctx: BenchContext) -> ScenarioResult:
    count = int(RATE * (1.0 if ctx.quick else SECONDS))
    work = ctx.work_dir / "event_cost"
    with _system(work, ctx.loadgen_core, {"LOG_LEVEL": "WARNING"}) as (url, procs):
        phases = asyncio.run(_phases(url, procs, count))
    rows: list[list[Cell]] = [
        [
            p["kind"],
            p["acked"],
            round(p["p99_ms"], 1),
            *(round(p["cpu_us_per_event"][k], 1) for k in PROCESSES),
            round(p["total_us"], 1),
        ]
        for p in phases
    ]
    complete = all(p["acked"] == p["sent"] and p["drained"] for p in phases)
    notes = [
        f"{p['kind']}: sent {p['sent']:,}, acked {p['acked']:,}, refused {p['errors'] or 'none'},"
        f" {'all written' if p['drained'] else '**not all written in time**'}"
        for p in phases
    ]
    if not complete:
        notes.append("**Not every event was acked and written: the figures are unusable.**")
    return ScenarioResult(
        scenario="event_cost",
        title="The durable path's cost per event: messages, edits and reactions",
        method=(
            f"Chat, persistence and notification with NATS and PostgreSQL, all on core"
            f" {ctx.loadgen_core}, driven over the bus from core {ctx.server_core} as a gateway"
            f" drives them (no gateway, no clients). First {count:,} messages at {RATE}/s in"
            f" {ROOMS} rooms (`chat.cmd.send-batch` every {BATCH_INTERVAL_SECONDS * 1000:g} ms),"
            " then one edit of each, then one reaction to each, at the same rate"
            " (`chat.cmd.send`, one each: a change goes to chat alone, after the look-up of its"
            " target in PostgreSQL). CPU of each"
            " process over each phase and until persistence has written it all, per acked"
            " event; p99 from request to reply."
        ),
        columns=["event", "acked", "p99 ms", *(f"{k} µs" for k in PROCESSES), "total µs"],
        rows=rows,
        notes=notes,
        data={"rate": RATE, "phases": phases, "complete": complete, "components": COMPONENTS},
    )
