"""The chat write path alone: ``chat.cmd.send`` requests straight onto the bus, no gateway.

``python3 -m uv run python -m switchboard_bench.write_path --rate 2000 --seconds 10``

Starts embedded NATS (JetStream) and PostgreSQL with persistence and chat (pinned to
``--system-core`` like the full benchmark pins them), then offers ``--rate`` requests per second
spread over ``--rooms`` rooms from this process on ``--driver-core``, each with a fresh
``clientMsgId`` as the load generator sends them and an unrecorded trace context as the gateway
sends most. It prints the requests acked, their latency percentiles (request to reply) and the
CPU each component spent per acked message, and can record py-spy profiles of chat and
persistence meanwhile (``--profile``). Used to measure the write path's optimisations
(bench/profiles/README-write-path.md); figures are the machine's only when it is quiet.
"""

import argparse
import asyncio
import contextlib
import json
import math
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
import psutil
from switchboard_contracts import ChatSendReply, ChatSendRequest, streams, subjects
from switchboard_contracts.chat import (
    ChatSendBatchReply,
    ChatSendBatchRequest,
    MessagesGetReply,
    MessagesGetRequest,
)
from switchboard_contracts.notify import Notification, NotificationType
from switchboard_devstack.stack import Stack

from switchboard_bench.system_stack import pin, system_stores

__all__ = ["main"]

DATABASE = "switchboard"
COMPONENTS = ("chat", "persistence")


@dataclass
class Outcome:
    sent: int = 0
    acked: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)

    def failed(self, why: str, count: int = 1) -> None:
        self.errors[why] = self.errors.get(why, 0) + count

    def record(self, reply: ChatSendReply, elapsed_ms: float) -> None:
        if reply.message is not None:
            self.acked += 1
            self.latencies_ms.append(elapsed_ms)
        elif reply.error is not None:
            self.failed(str(reply.error.code))


def _cpu_seconds(procs: dict[str, psutil.Process], *, system: bool = False) -> dict[str, float]:
    """User+system CPU seconds of each process (PostgreSQL with its backends); only the
    system (kernel) part with ``system``."""
    seconds: dict[str, float] = {}
    for name, proc in procs.items():
        total = 0.0
        tree = [proc, *(proc.children(recursive=True) if name == "postgres" else [])]
        for p in tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                times = p.cpu_times()
                total += times.system if system else times.user + times.system
        seconds[name] = total
    return seconds


@contextlib.contextmanager
def _system(work: Path, system_core: int, env: dict[str, str]) -> Iterator[tuple[str, Any]]:
    with contextlib.ExitStack() as stack:
        stores = stack.enter_context(
            system_stores(work, nats_core=system_core, postgres_core=system_core)
        )
        services = Stack(stores.nats_url, stores.database_url, log_dir=stores.log_dir, env=env)
        for name in ("persistence", "chat", "notification"):
            services.add(name)
        stack.callback(services.stop)
        services.start()
        procs: dict[str, psutil.Process] = {}
        for label, pid in [("nats", stores.nats_pids[0]), ("postgres", stores.postgres.pid)]:
            assert pid is not None
            procs[label] = psutil.Process(pid)
        for name in COMPONENTS:
            pid = services[name].process.pid
            assert pid is not None
            procs[name] = psutil.Process(pid)
        for proc in procs.values():
            pin(proc.pid, system_core)
        yield stores.nats_url, procs


async def _offer(
    url: str,
    rate: float,
    seconds: float,
    rooms: int,
    outcome: Outcome,
    *,
    sampled: bool,
    client_msg_ids: bool = True,
    batch_interval: float = 0.0,
    unsaid_attempts: bool = False,
) -> None:
    nc = await nats.connect(url)
    flags = "01" if sampled else "00"
    run = uuid.uuid4().hex[:8]
    tasks: set[asyncio.Task[None]] = set()

    def spawn(work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def request_of(index: int) -> ChatSendRequest:
        return ChatSendRequest(
            room=f"wp-{run}-{index % rooms}",
            user_id=f"user-{index % (rooms * 10)}",
            content=f"message {index} of the write-path benchmark",
            client_msg_id=f"{run}-{index}" if client_msg_ids else None,
            first_attempt=client_msg_ids and not unsaid_attempts,
        )

    async def one(index: int) -> None:
        request = request_of(index)
        started = time.perf_counter()
        try:
            msg = await nc.request(
                subjects.CHAT_SEND,
                request.encode(),
                timeout=10,
                # as the gateway sends it: a trace its sampler did not record (most of them)
                headers={"traceparent": f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-{flags}"},
            )
        except (nats.errors.TimeoutError, nats.errors.NoRespondersError) as err:
            outcome.failed(type(err).__name__)
            return
        outcome.record(ChatSendReply.decode(msg.data), (time.perf_counter() - started) * 1000)

    async def batch(first: int, count: int) -> None:
        requests = [request_of(index) for index in range(first, first + count)]
        started = time.perf_counter()
        try:
            msg = await nc.request(
                subjects.CHAT_SEND_BATCH,
                ChatSendBatchRequest(requests=requests).encode(),
                timeout=10,
                headers={"traceparent": f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-{flags}"},
            )
        except (nats.errors.TimeoutError, nats.errors.NoRespondersError) as err:
            outcome.failed(type(err).__name__, count)
            return
        answer = ChatSendBatchReply.decode(msg.data)
        elapsed_ms = (time.perf_counter() - started) * 1000
        if answer.error is not None:
            outcome.failed(str(answer.error.code), count)
        for reply in answer.replies:
            outcome.record(reply, elapsed_ms)

    total = int(rate * seconds)
    if batch_interval > 0:
        async for first, count in _batches_due(rate, total, batch_interval):
            spawn(batch(first, count))
            outcome.sent += count
    else:
        async for index, _ in _batches_due(rate, total, 0.0):
            spawn(one(index))
            outcome.sent += 1
    if tasks:
        await asyncio.wait(tasks, timeout=30)
    await nc.close()


async def _batches_due(rate: float, total: int, interval: float) -> AsyncIterator[tuple[int, int]]:
    """(first index, count) as they come due at ``rate``/s: one at a time at its time without
    an ``interval``; else what came due in each interval, as a gateway gathers its clients'
    sends into one chat.cmd.send-batch (the latency then counted from the batch's departure)."""
    loop = asyncio.get_running_loop()
    begin = loop.time()
    sent = 0
    while sent < total:
        if interval > 0:
            await asyncio.sleep(interval)
            due = min(total, int((loop.time() - begin) * rate))
        else:
            delay = begin + sent / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            due = sent + 1
        if due > sent:
            yield sent, due - sent
            sent = due


async def _offer_entries(url: str, rate: float, count: int) -> float:
    """Publish ``count`` users' own inbox entries into NOTIFY at ``rate``/s (one user each on
    ``notify.user.<user>``, cursor 0 as notification publishes them, one trace context for all),
    then wait until persistence has written and acked them all; returns the seconds that took.
    (A broadcast is one entry for its audience now, on ``notify.audience.<audience>``, not one
    per recipient: these entries measure the per-entry path, as notification's sends take it.)"""
    nc = await nats.connect(url)
    js = nc.jetstream()
    run = uuid.uuid4().hex[:8]
    context = {"traceparent": f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-00"}
    loop = asyncio.get_running_loop()
    begin = loop.time()
    pending: list[asyncio.Future[Any]] = []
    for index in range(count):
        delay = begin + index / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        entry = Notification(
            id=f"{run}-{index}",
            user_id=f"wp-{run}-{index}",
            cursor=0,  # as notification publishes it: the writer gives it its position
            type=NotificationType.INFO,
            title="write-path benchmark",
            message=f"entry {index} of {count}",
            timestamp=int(time.time() * 1000),
        )
        pending.append(
            asyncio.ensure_future(
                js.publish(
                    subjects.notify_user(entry.user_id),
                    entry.encode(),
                    stream=streams.NOTIFY.name,
                    headers={**context, "Nats-Msg-Id": f"{run}-{index}"},
                )
            )
        )
    await asyncio.gather(*pending)
    spec = streams.PERSISTENCE_NOTIFY_CONSUMER
    while True:
        info = await js.consumer_info(spec.stream, spec.durable)
        if not info.num_pending and not info.num_ack_pending:
            break
        await asyncio.sleep(0.05)
    await nc.close()
    return loop.time() - begin


async def _offer_lookups(url: str, rate: float, seconds: float, ids: int) -> int:
    """``chat.cmd.store.messages-get`` requests of ``ids`` unknown ids each at ``rate``/s, as
    chat's batched exactly-once lookups ask persistence; returns how many were answered."""
    nc = await nats.connect(url)
    answered = 0

    async def one() -> None:
        nonlocal answered
        request = MessagesGetRequest(ids=[str(uuid.uuid4()) for _ in range(ids)])
        msg = await nc.request(
            subjects.STORE_MESSAGES_GET,
            request.encode(),
            timeout=10,
            headers={"traceparent": f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-00"},
        )
        if MessagesGetReply.decode(msg.data).error is None:
            answered += 1

    loop = asyncio.get_running_loop()
    begin = loop.time()
    pending: list[asyncio.Future[None]] = []
    for index in range(int(rate * seconds)):
        delay = begin + index / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        pending.append(asyncio.ensure_future(one()))
    await asyncio.gather(*pending, return_exceptions=True)
    await nc.close()
    return answered


def _percentile(ordered: list[float], q: float) -> float:
    """Nearest rank, 0 < q <= 1; 0 for no samples."""
    if not ordered:
        return 0.0
    return ordered[min(len(ordered), max(1, math.ceil(q * len(ordered)))) - 1]


def _summary(
    outcome: Outcome, cpu: dict[str, float], kernel: dict[str, float], wall: float
) -> dict[str, Any]:
    lat = sorted(outcome.latencies_ms)
    acked = max(outcome.acked, 1)
    return {
        "sent": outcome.sent,
        "acked": outcome.acked,
        "errors": outcome.errors,
        "ackedPerSecond": round(outcome.acked / wall, 1),
        "latencyMs": {
            name: round(_percentile(lat, q), 2)
            for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0))
        },
        "cpuSeconds": {k: round(v, 2) for k, v in cpu.items()},
        "cpuMicrosPerAckedMessage": {k: round(v * 1e6 / acked, 1) for k, v in cpu.items()},
        # of which in the kernel (loopback socket writes and reads, epoll): what fewer, larger
        # writes save, which user-space profiles do not show
        "kernelMicrosPerAckedMessage": {k: round(v * 1e6 / acked, 1) for k, v in kernel.items()},
    }


def _profile(pid: int, out: Path, seconds: float, rate: int) -> "subprocess.Popen[bytes]":
    """py-spy on ``pid`` for ``seconds``: a flame graph (.svg) or collapsed stacks (.txt)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [
            str(Path(sys.executable).parent / "py-spy"),
            "record",
            "--nonblocking",
            "--format",
            "raw" if out.suffix == ".txt" else "flamegraph",
            "-o",
            str(out),
            "--pid",
            str(pid),
            "--duration",
            str(int(seconds)),
            "--rate",
            str(rate),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _entries(procs: dict[str, psutil.Process], url: str, rate: float, count: int) -> dict[str, Any]:
    asyncio.run(_offer_entries(url, rate, min(count, 1000)))  # warm-up
    before = _cpu_seconds(procs)
    seconds = asyncio.run(_offer_entries(url, rate, count))
    used = {k: v - before[k] for k, v in _cpu_seconds(procs).items()}
    return {
        "entries": count,
        "secondsUntilAllWritten": round(seconds, 2),
        "cpuSeconds": {k: round(v, 2) for k, v in used.items()},
        "cpuMicrosPerEntry": {k: round(v * 1e6 / count, 1) for k, v in used.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=2000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--rooms", type=int, default=100)
    parser.add_argument("--driver-core", type=int, default=0)
    parser.add_argument("--system-core", type=int, default=1)
    parser.add_argument(
        "--profile", type=Path, help="a directory for py-spy profiles of chat and persistence"
    )
    parser.add_argument("--profile-format", choices=("svg", "txt"), default="svg")
    parser.add_argument(
        "--profile-rate",
        type=int,
        default=100,
        help="py-spy samples per second (more: finer profiles, and more CPU taken from core 1)",
    )
    parser.add_argument(
        "--sampled",
        action="store_true",
        help="send recorded trace contexts (what every request was before sampling)",
    )
    parser.add_argument(
        "--without-client-msg-ids",
        action="store_true",
        help="send no clientMsgId: no exactly-once lookup (what the lookup costs, by difference)",
    )
    parser.add_argument(
        "--unsaid-attempts",
        action="store_true",
        help="send clientMsgIds without saying they are first attempts (as clients that do not"
        " count attempts): chat looks each up in PostgreSQL",
    )
    parser.add_argument(
        "--batch-interval",
        type=float,
        default=0.0,
        help="send what came due in each interval (seconds) as one chat.cmd.send-batch, as the"
        " gateway gathers its clients' sends (0: one chat.cmd.send request per message)",
    )
    parser.add_argument(
        "--lookups-only",
        type=int,
        metavar="IDS",
        default=0,
        help="instead of chat messages, send persistence --rate lookup requests per second of"
        " this many ids each (what chat's exactly-once lookups ask) and report CPU per request",
    )
    parser.add_argument(
        "--notify-entries",
        type=int,
        default=0,
        help="instead of chat messages, publish this many users' own inbox entries into NOTIFY"
        " (one user each) and report persistence's and PostgreSQL's CPU per entry written",
    )
    parser.add_argument("--env", action="append", default=[], help="NAME=value for the services")
    parser.add_argument("--work", type=Path, default=Path(".switchboard/write-path"))
    args = parser.parse_args()
    env = dict(item.split("=", 1) for item in args.env)
    if args.driver_core < (os.cpu_count() or 1):
        os.sched_setaffinity(0, {args.driver_core})
    with _system(args.work, args.system_core, env) as (url, procs):
        asyncio.run(  # warm up as the measured run sends
            _offer(
                url,
                args.rate,
                args.warmup,
                args.rooms,
                Outcome(),
                sampled=args.sampled,
                client_msg_ids=not args.without_client_msg_ids,
                batch_interval=args.batch_interval,
                unsaid_attempts=args.unsaid_attempts,
            )
        )
        profilers = [
            _profile(
                procs[name].pid,
                args.profile / f"{name}.{args.profile_format}",
                args.seconds,
                args.profile_rate,
            )
            for name in (COMPONENTS if args.profile is not None else ())
        ]
        if args.lookups_only:
            asyncio.run(_offer_lookups(url, args.rate, args.warmup, args.lookups_only))
            before = _cpu_seconds(procs)
            answered = asyncio.run(_offer_lookups(url, args.rate, args.seconds, args.lookups_only))
            used = {k: v - before[k] for k, v in _cpu_seconds(procs).items()}
            print(
                json.dumps(
                    {
                        "requests": answered,
                        "cpuMicrosPerRequest": {
                            k: round(v * 1e6 / max(answered, 1), 1) for k, v in used.items()
                        },
                    },
                    indent=2,
                )
            )
            return
        if args.notify_entries:
            print(json.dumps(_entries(procs, url, args.rate, args.notify_entries), indent=2))
            return
        before = _cpu_seconds(procs)
        before_kernel = _cpu_seconds(procs, system=True)
        started = time.monotonic()
        outcome = Outcome()
        asyncio.run(
            _offer(
                url,
                args.rate,
                args.seconds,
                args.rooms,
                outcome,
                sampled=args.sampled,
                client_msg_ids=not args.without_client_msg_ids,
                batch_interval=args.batch_interval,
                unsaid_attempts=args.unsaid_attempts,
            )
        )
        wall = time.monotonic() - started
        used = {k: v - before[k] for k, v in _cpu_seconds(procs).items()}
        kernel = {k: v - before_kernel[k] for k, v in _cpu_seconds(procs, system=True).items()}
        for profiler in profilers:
            profiler.wait(60)
        print(json.dumps(_summary(outcome, used, kernel, wall), indent=2))


if __name__ == "__main__":
    main()
