"""Cluster check: the scaling model's per-instance assumptions, on this machine.

The same room load runs twice on three gateway processes: once on one NATS server (``CHAT`` with
one replica), once on a three-node NATS cluster on loopback (``CHAT``, ``NOTIFY`` and the
presence buckets with three replicas; each gateway connected to a node of its own). Members of
one room are spread evenly over the gateways. Checked: each gateway receives each message once
from NATS (its ``chat.live.>`` count), whatever its number of members; gateway CPU per delivered
frame (so deliveries per gateway core); NATS CPU per message, single node against cluster.
"""

import asyncio
import contextlib
import itertools
import json
import math
import re
import time
from dataclasses import dataclass, field

import httpx
import websockets

from switchboard_bench.context import BenchContext
from switchboard_bench.results import ScenarioResult, Target
from switchboard_bench.system_stack import CpuMeter, SystemStores, pin, system_stores

__all__ = ["run"]

GATEWAYS = 3
ROOM = "bench-cluster"
PREFIX = "bench-"
WARMUP = "warmup-"
WARMUP_TIMEOUT_SECONDS = 60
IDLE_SECONDS = 5.0
LIVE_RECEIVED = re.compile(
    r'^switchboard_bus_messages_received_total\{[^}]*subject="chat\.live\.>"[^}]*\} ([0-9.e+]+)$',
    re.MULTILINE,
)


@dataclass
class Run:
    nodes: int
    messages: int
    members: int
    seconds: float = 0.0
    delivered: int = 0
    live_received: list[float] = field(default_factory=list)
    """Per gateway: messages it received on ``chat.live.>`` during the load."""
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def gateway_cpu(self) -> float:
        return sum(used for name, used in self.cpu.items() if name.startswith("gateway"))

    @property
    def nats_cpu(self) -> float:
        return sum(used for name, used in self.cpu.items() if name.startswith("nats"))


def _live_received(url: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=5.0).text
    return sum(float(found) for found in LIVE_RECEIVED.findall(text))


class Member:
    def __init__(self, url: str, user: str) -> None:
        self.url = f"{url}/chat/{ROOM}?userId={user}"
        self.seen: set[str] = set()
        self.arrived = asyncio.Event()
        self.warmed = asyncio.Event()
        self.expected = 0
        self.socket: websockets.ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None

    async def open(self) -> None:
        self.socket = await websockets.connect(self.url, max_queue=None)
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.socket is not None
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self.socket:
                frame = json.loads(raw)
                if frame.get("type") != "chat":
                    continue
                content = frame.get("payload", {}).get("content", "")
                if content.startswith(WARMUP):
                    self.warmed.set()
                elif content.startswith(PREFIX):
                    self.seen.add(content)
                    if len(self.seen) >= self.expected:
                        self.arrived.set()

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()
        if self._reader is not None:
            await self._reader


async def _load(urls: list[str], run: Run, rate: float) -> None:
    members = [Member(urls[i % len(urls)], f"m{i}") for i in range(run.members)]
    await asyncio.gather(*(member.open() for member in members))
    # Several senders, each well under the per-connection frame limit (20/s by default).
    senders = [m.socket for m in members[: max(1, min(len(members), math.ceil(rate / 10)))]]
    sender = senders[0]
    assert sender is not None
    try:
        await _warm_up(sender, members)
        for member in members:
            member.expected = run.messages
        before = await asyncio.to_thread(lambda: [_live_received(url) for url in urls])
        started = time.perf_counter()
        for i in range(1, run.messages + 1):
            frame = {"type": "chat", "payload": {"content": f"{PREFIX}{i}"}}
            socket = senders[i % len(senders)]
            assert socket is not None
            await socket.send(json.dumps(frame))
            await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
        await asyncio.wait_for(asyncio.gather(*(m.arrived.wait() for m in members)), 120)
        run.seconds = time.perf_counter() - started
        after = await asyncio.to_thread(lambda: [_live_received(url) for url in urls])
        run.live_received = [a - b for a, b in zip(after, before, strict=True)]
        run.delivered = sum(len(m.seen) for m in members)
    finally:
        await asyncio.gather(*(member.close() for member in members))


async def _warm_up(sender: websockets.ClientConnection, members: list[Member]) -> None:
    """Until every member got a warm-up message: then each is in the room and every gateway
    follows it. A socket's join completes after its handshake, so a message sent at once can
    reach the room before a member's gateway subscribed to it; another is sent each second."""
    waiting = [asyncio.ensure_future(m.warmed.wait()) for m in members]
    try:
        async with asyncio.timeout(WARMUP_TIMEOUT_SECONDS):
            for n in itertools.count():
                frame = {"type": "chat", "payload": {"content": f"{WARMUP}{n}"}}
                await sender.send(json.dumps(frame))
                _, pending = await asyncio.wait(waiting, timeout=1.0)
                if not pending:
                    return
    finally:
        for waiter in waiting:
            waiter.cancel()


def _one(ctx: BenchContext, nodes: int, messages: int, members: int, rate: float) -> Run:
    run = Run(nodes=nodes, messages=messages, members=members)
    work = ctx.work_dir / f"cluster-{nodes}"
    with system_stores(
        work, nats_core=ctx.loadgen_core, postgres_core=ctx.loadgen_core, nats_nodes=nodes
    ) as stores:
        _with_stack(ctx, stores, run, rate)
    return run


def _with_stack(ctx: BenchContext, stores: SystemStores, run: Run, rate: float) -> None:
    replicas = str(len(stores.nats_urls))
    stack = stores.stack(env={"STREAM_REPLICAS": replicas})
    for name in ("persistence", "chat", "notification", "metrics-collector"):
        stack.add(name)
    gateways = [
        stack.add(
            "gateway",
            label=f"gateway-{i + 1}",
            env={"NATS_URL": stores.nats_urls[i % len(stores.nats_urls)]},
        )
        for i in range(GATEWAYS)
    ]
    try:
        stack.start()
        for label, handle in stack.services.items():
            core = ctx.server_core if label.startswith("gateway") else ctx.loadgen_core
            pin(handle.process.pid, core)
        pids: dict[str, int | None] = {
            label: handle.process.pid for label, handle in stack.services.items()
        }
        pids.update({f"nats-{i + 1}": pid for i, pid in enumerate(stores.nats_pids)})
        meter = CpuMeter(pids)
        # What every process burns idle (heartbeats, reports, pings), to subtract from the load.
        meter.start()
        idle_started = time.perf_counter()
        time.sleep(1.0 if ctx.quick else IDLE_SECONDS)
        idle = meter.stop()
        idle_seconds = time.perf_counter() - idle_started
        meter.start()
        load_started = time.perf_counter()
        asyncio.run(_load([g.ws_url for g in gateways], run, rate))
        used = meter.stop()
        load_seconds = time.perf_counter() - load_started
        run.cpu = {
            name: max(0.0, used[name] - idle[name] / idle_seconds * load_seconds) for name in used
        }
    finally:
        stack.stop()


def run(ctx: BenchContext) -> ScenarioResult:
    messages, members, rate = (20, 6, 20.0) if ctx.quick else (600, 90, 60.0)
    runs = [_one(ctx, nodes, messages, members, rate) for nodes in (1, 3)]
    return _result(ctx, runs, rate)


def _result(ctx: BenchContext, runs: list[Run], rate: float) -> ScenarioResult:
    rows: list[list[str | int | float | None]] = []
    once = True
    for r in runs:
        each_once = all(round(count) == r.messages for count in r.live_received)
        once = once and each_once
        rows.append(
            [
                "1 node, R1" if r.nodes == 1 else f"{r.nodes}-node cluster, R{r.nodes}",
                r.messages,
                r.delivered,
                " / ".join(str(round(count)) for count in r.live_received),
                round(r.gateway_cpu / max(1, r.delivered) * 1e6, 1),
                round(r.delivered / r.gateway_cpu) if r.gateway_cpu else None,
                round(r.nats_cpu / max(1, r.messages) * 1e6, 1),
                round(r.cpu.get("chat", 0.0) / max(1, r.messages) * 1e6, 1),
            ]
        )
    single, cluster = runs
    nats_ratio = cluster.nats_cpu / single.nats_cpu if single.nats_cpu else float("nan")
    complete = all(r.delivered == r.messages * r.members for r in runs)
    return ScenarioResult(
        scenario="cluster",
        title="Cluster check: several gateways, three-node NATS",
        method=(
            f"{GATEWAYS} gateway processes (pinned to core {ctx.server_core}); one room with"
            f" {runs[0].members} members spread evenly over them (Python `websockets` clients on"
            f" core {ctx.loadgen_core}); members send {runs[0].messages} messages at"
            f" {rate:.0f}/s (several senders, each under the per-connection frame limit)."
            " Run once on one NATS server (`CHAT` R1) and once on a three-node"
            " NATS cluster on loopback (`STREAM_REPLICAS=3`: `CHAT`, `NOTIFY` and the presence"
            " buckets with three replicas), each gateway connected to a node of its own. NATS,"
            f" PostgreSQL and the other services on core {ctx.loadgen_core}. CPU is each"
            f" process's during the load minus its idle rate (measured over {IDLE_SECONDS:.0f} s"
            " before) times the load's duration."
        ),
        columns=[
            "NATS",
            "messages",
            "deliveries",
            "chat.live received per gateway",
            "gateway µs CPU / delivery",
            "deliveries / gateway core-s",
            "NATS µs CPU / message (all nodes)",
            "chat µs CPU / message",
        ],
        rows=rows,
        targets=[
            Target(
                name="Cluster: one copy per gateway",
                goal="each gateway receives each room message once from NATS, on one node and"
                " on a three-node cluster; every member gets every message",
                measured=("yes" if once else "NO")
                + (", all delivered" if complete else ", NOT all delivered"),
                met=once and complete,
                limit="" if once and complete else "see the per-gateway counts",
            )
        ],
        notes=[
            f"NATS CPU per message, cluster (R3, all nodes) / single node (R1): {nats_ratio:.1f}x.",
            "The load is small on purpose (the client is a Python process sharing a core): this"
            " checks per-instance costs and the one-copy-per-gateway assumption, not capacity.",
        ],
        data={
            "runs": [
                {
                    "nodes": r.nodes,
                    "messages": r.messages,
                    "members": r.members,
                    "deliveries": r.delivered,
                    "seconds": r.seconds,
                    "live_received_per_gateway": r.live_received,
                    "cpu_seconds": r.cpu,
                    "gateway_us_per_delivery": r.gateway_cpu / max(1, r.delivered) * 1e6,
                    "nats_us_per_message": r.nats_cpu / max(1, r.messages) * 1e6,
                }
                for r in runs
            ],
            "nats_cpu_cluster_over_single": nats_ratio,
        },
    )
