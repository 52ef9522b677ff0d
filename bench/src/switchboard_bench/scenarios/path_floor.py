"""The durable chat path's floor: its NATS exchanges at 2,000 msg/s made by bare clients.

Issue 18 judges the path's cost against the store floor of the bulk ``persistence`` scenario.
This scenario measures what the same path costs with nothing of ours on it: NATS's CPU for the
live path's exchanges (a request and reply per gateway batch, a JetStream publish and ack per
message, the republished copy, a pull and an ack per message) and the least Python spends on
them (``switchboard_bench.path_floor``: three bare nats-py processes, one per hop). The cost
target's line in the report sets the path's measured cost beside it.
"""

import asyncio
import contextlib
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import nats
from switchboard_contracts import streams, subjects
from switchboard_contracts.streams import ConsumerSpec
from switchboard_devstack.nats_server import NatsServer
from switchboard_devstack.stores import scratch_dir
from switchboard_runtime.messaging.bus import ensure_consumer, ensure_stream

from switchboard_bench.context import BenchContext
from switchboard_bench.path_floor import CONSUMER
from switchboard_bench.results import Cell, ScenarioResult
from switchboard_bench.system_stack import CpuMeter, pin

__all__ = ["ROLES", "run"]

RATE = 2000
ROOMS = 100
SECONDS = 10.0
INTERVAL_SECONDS = 0.003
ROLES = ("sender", "chat", "persistence")
READY_TIMEOUT_SECONDS = 30.0


def _read_line(stream: IO[str], timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stream.readline()
        if line.strip():
            parsed: dict[str, Any] = json.loads(line)
            return parsed
    raise TimeoutError("a path_floor role said nothing")


@contextlib.contextmanager
def _role(argv: list[str], core: int) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "switchboard_bench.path_floor", *argv],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        pin(proc.pid, core)
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


async def _prepare(url: str) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    await ensure_stream(js, streams.CHAT)
    base = streams.PERSISTENCE_CHAT_CONSUMER
    spec = ConsumerSpec(
        stream=base.stream,
        durable=CONSUMER,
        filter_subject=subjects.CHAT_ROOM_ALL,
        max_ack_pending=base.max_ack_pending,
        ack_wait_seconds=base.ack_wait_seconds,
    )
    await ensure_consumer(js, spec)
    await nc.close()


async def _consumer_state(url: str) -> tuple[int, int, int]:
    """(messages in the stream, unacked, undelivered) of the floor's consumer."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    deadline = time.monotonic() + 10
    while True:
        info = await js.consumer_info(streams.CHAT.name, CONSUMER)
        stream = await js.stream_info(streams.CHAT.name)
        state = (stream.state.messages, info.num_ack_pending or 0, info.num_pending or 0)
        if state[1:] == (0, 0) or time.monotonic() > deadline:
            await nc.close()
            return state
        await asyncio.sleep(0.1)


def run(ctx: BenchContext) -> ScenarioResult:
    seconds = 2.0 if ctx.quick else SECONDS
    scratch = scratch_dir("sb-floor-")
    work = ctx.work_dir / "path_floor"
    work.mkdir(parents=True, exist_ok=True)
    nats_server = NatsServer(scratch / "nats", log_file=work / "nats.log")
    nats_server.start()
    try:
        pin(nats_server.pid, ctx.loadgen_core)
        url = nats_server.url
        asyncio.run(_prepare(url))
        common = [url, "--rate", str(RATE), "--rooms", str(ROOMS)]
        with (
            _role(["chat", *common, "--interval", str(INTERVAL_SECONDS)], ctx.loadgen_core) as chat,
            _role(["persistence", *common], ctx.loadgen_core) as persistence,
        ):
            assert chat.stdout is not None
            assert persistence.stdout is not None
            _read_line(chat.stdout, READY_TIMEOUT_SECONDS)
            _read_line(persistence.stdout, READY_TIMEOUT_SECONDS)
            with _role(["sender", *common, "--seconds", str(seconds)], ctx.server_core) as sender:
                assert sender.stdout is not None
                meter = CpuMeter(
                    {
                        "nats": nats_server.pid,
                        "sender": sender.pid,
                        "chat": chat.pid,
                        "persistence": persistence.pid,
                    }
                )
                _read_line(sender.stdout, READY_TIMEOUT_SECONDS)
                meter.start()
                sent = _read_line(sender.stdout, seconds + 30)
                cpu = meter.stop()
            stored, unacked, undelivered = asyncio.run(_consumer_state(url))
            chat.terminate()
            persistence.terminate()
            chat_counts = _read_line(chat.stdout, 10)
            persistence_counts = _read_line(persistence.stdout, 10)
    finally:
        nats_server.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    return _result(
        seconds,
        Counts(sent, chat_counts, persistence_counts, stored, unacked, undelivered),
        cpu,
    )


@dataclass(frozen=True)
class Counts:
    """What each role said at its end, and the consumer's state after the drain."""

    sent: dict[str, Any]
    chat: dict[str, Any]
    persistence: dict[str, Any]
    stored: int
    """Messages in the stream."""
    unacked: int
    undelivered: int


def _result(seconds: float, counts: Counts, cpu: dict[str, float]) -> ScenarioResult:
    sent, chat, persistence = counts.sent, counts.chat, counts.persistence
    stored, unacked, undelivered = counts.stored, counts.unacked, counts.undelivered
    acked = int(sent.get("stored", 0))
    per = {name: (used * 1e6 / acked if acked else 0.0) for name, used in cpu.items()}
    python_us = per["sender"] + per["chat"] + per["persistence"]
    complete = (
        acked == int(sent.get("messages", -1))
        and stored == acked
        and int(sent.get("copies", -1)) == acked
        and int(sent.get("out_of_order", -1)) == 0
        and int(persistence.get("acked", -1)) >= acked
        and (unacked, undelivered) == (0, 0)
    )
    rows: list[list[Cell]] = [[name, round(us, 1), round(cpu[name], 2)] for name, us in per.items()]
    rows.append(["the three bare processes", round(python_us, 1), None])
    return ScenarioResult(
        scenario="path_floor",
        title="The durable path's floor: its NATS exchanges made by bare clients",
        method=(
            f"One NATS server (JetStream on disk, the `CHAT` stream as chat creates it) and three"
            " bare nats-py processes, one per hop of the durable chat path, doing only its bus"
            " work (`switchboard_bench.path_floor`): a sender (the gateway's bus side, core 0)"
            f" offers {RATE:,} messages/s in {ROOMS} rooms, one request per millisecond to a bare"
            f" chat, which gathers {INTERVAL_SECONDS * 1000:g} ms of requests, publishes each"
            " message to JetStream with chat's four headers (pipelined, one round per room at a"
            " time, the expected last subject sequence from its own acks), waits for the acks and"
            " replies; the sender also receives every republished copy and checks each room's"
            " `seq`; every 50 ms (persistence's batch delay) a bare persistence pulls what a"
            " durable consumer holds and acks each message after decoding it (no PostgreSQL)."
            " NATS, chat and persistence share core 1. CPU over"
            f" {seconds:g} s of sending and the drain, per message stored."
        ),
        columns=["process", "µs per message", "CPU seconds"],
        rows=rows,
        notes=[
            f"Offered {int(sent.get('messages', 0)):,}, stored and acked {acked:,}"
            f" (refused {int(sent.get('refused', 0))}), stream {stored:,}, republished copies"
            f" received {int(sent.get('copies', 0)):,}, out of order"
            f" {int(sent.get('out_of_order', 0))}; persistence acked"
            f" {int(persistence.get('acked', 0)):,} (unacked {unacked}, undelivered"
            f" {undelivered}): {'complete' if complete else '**incomplete: figures unusable**'}.",
            f"Chat published {int(chat.get('sent', 0)):,} times"
            f" ({int(chat.get('refused', 0))} refused by JetStream).",
        ],
        data={
            "rate": RATE,
            "seconds": seconds,
            "acked": acked,
            "complete": complete,
            "cpu_seconds": cpu,
            "cpu_us_per_message": per,
            "python_us_per_message": python_us,
        },
    )
