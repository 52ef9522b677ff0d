"""Durable chat capacity (issue 18): the highest rate of acknowledged chat messages in rooms of
10 with every delivery's p99 <= 100 ms, nothing lost and every send acked. A rate ladder
(``loadgen.mjs`` mode ``capacity``): 1000 connections in rooms of 10, every one a sender, round
robin; each step a few seconds plus a drain, stopping at the first failing step. Capacity is the
acked rate of the last passing step; each step's CPU per component says what limits it.

The gateway only: the reference servers have no durable path (``--chat-capacity-references``
runs them too, as context: their steps pass without acks)."""

from dataclasses import dataclass
from typing import Any

from switchboard_bench.chat_cost import P99_LIMIT_MS, acked_rate, capacity_pick
from switchboard_bench.context import BenchContext
from switchboard_bench.measure import run_measured
from switchboard_bench.results import ScenarioResult
from switchboard_bench.scenarios.common import limit_of, loadgen_notes, slim_step
from switchboard_bench.targets import SYSTEMS, start_system

__all__ = ["ChatCapacitySizes", "run", "sizes", "summarise"]

COMPONENTS = ("chat", "nats", "persistence", "postgres")


@dataclass(frozen=True)
class ChatCapacitySizes:
    connections: int
    room_size: int
    steps: tuple[int, ...]
    """Offered messages per second, in turn (each delivered to the room_size members)."""
    step_ms: int
    drain_ms: int
    warmup_ms: int


FULL = ChatCapacitySizes(
    connections=1000,
    room_size=10,
    steps=(250, 500, 1000, 1500, 2000, 2500, 3000, 4000, 5000, 6000, 8000),
    step_ms=4000,
    drain_ms=3000,
    warmup_ms=2000,
)
QUICK = ChatCapacitySizes(
    connections=40,
    room_size=10,
    steps=(50, 100),
    step_ms=1000,
    drain_ms=2000,
    warmup_ms=500,
)


def sizes(ctx: BenchContext) -> ChatCapacitySizes:
    return QUICK if ctx.quick else FULL


def config_of(size: ChatCapacitySizes) -> dict[str, Any]:
    return {
        "mode": "capacity",
        "connections": size.connections,
        "roomSize": size.room_size,
        "steps": list(size.steps),
        "stepMs": size.step_ms,
        "drainMs": size.drain_ms,
        "stopP99Ms": P99_LIMIT_MS,
        "stopOnLoss": True,
        "stopOnUnacked": True,
        "warmupMs": size.warmup_ms,
        "warmupRate": size.steps[0],
    }


def run(ctx: BenchContext) -> ScenarioResult:
    size = sizes(ctx)
    config = config_of(size)
    systems = [s for s in ctx.systems if s == "gateway" or ctx.chat_capacity_references]
    timeout = 120 + len(size.steps) * (size.step_ms + size.drain_ms + 2000) / 1000
    raw: dict[str, dict[str, Any]] = {}
    for name in systems:
        print(f"   chat_capacity: {name}", flush=True)
        # Every connection sends: its share of the top step, the gateway's frame limits set by it.
        sender_rate = max(size.steps) / size.connections
        with start_system(
            name, ctx, connections=size.connections, sender_rate=sender_rate
        ) as system:
            raw[name] = run_measured(system, config, ctx.loadgen_core, timeout)
    return summarise(raw, size)


def _share(step: dict[str, Any], cpu: float | None) -> str | None:
    seconds = step.get("seconds") or 0.0
    return None if cpu is None or not seconds else f"{cpu / seconds:.0%}"


def step_row(name: str, step: dict[str, Any]) -> list[str | int | float | None]:
    used = step.get("systemCpu") or {}
    acked = step.get("acked")
    rate = acked_rate(step)
    return [
        SYSTEMS.get(name, name),
        step.get("offeredRate"),
        round(rate) if rate is not None else None,
        step.get("lost"),
        None if acked is None else (step.get("sent") or 0) - acked,
        step.get("unsent"),
        (step.get("latency") or {}).get("p50"),
        (step.get("latency") or {}).get("p99"),
        (step.get("ack") or {}).get("p99"),
        _share(step, step.get("serverCpuSeconds")),
        *(_share(step, used.get(c)) for c in COMPONENTS),
        _share(step, step.get("loadgenCpuSeconds")),
    ]


def summarise(raw: dict[str, dict[str, Any]], size: ChatCapacitySizes) -> ScenarioResult:
    rows: list[list[str | int | float | None]] = []
    systems: dict[str, Any] = {}
    for name, result in raw.items():
        steps = [s for s in result.get("steps", []) if not s.get("warmup")]
        good, bad = capacity_pick(steps)
        rows += [step_row(name, s) for s in steps]
        systems[name] = {
            "capacity": acked_rate(good) if good else None,
            "capacityRate": good.get("offeredRate") if good else None,
            "atLeast": good is not None and bad is None,
            "failedStep": slim_step(bad) if bad else None,
            "limit": limit_of(name, bad) if bad else None,
            "stoppedBecause": result.get("stoppedBecause"),
            "connections": result.get("connections"),
            "loadgen": result.get("loadgen"),
            "errors": result.get("errors"),
            "closes": result.get("closes"),
            "steps": [slim_step(s) for s in result.get("steps", [])],
        }
    notes = loadgen_notes(raw)
    for name, figures in systems.items():
        capacity = figures["capacity"]
        notes.append(
            f"{SYSTEMS.get(name, name)}: capacity "
            + (
                f"{'at least ' if figures['atLeast'] else ''}{capacity:,.0f} acked msg/s"
                if capacity is not None
                else "below the lowest step"
            )
            + f"; the ladder stopped because: {figures['stoppedBecause']}"
            + (f"; what limits it: {figures['limit']}" if figures["limit"] else "")
            + "."
        )
    method = (
        f"{size.connections} connections in rooms of {size.room_size}; every connection sends, "
        "round robin, so the sends rotate through the rooms. The offered rate steps through "
        f"{', '.join(map(str, size.steps))} messages/s, {size.step_ms / 1000:g} s each after a "
        f"{size.warmup_ms / 1000:g} s warm-up, each step followed by up to "
        f"{size.drain_ms / 1000:g} s of drain for every copy and every ack. The ladder stops at "
        f"the first step whose delivery p99 (every delivery) passes {P99_LIMIT_MS:g} ms, that "
        "loses a delivery, or that leaves a send unacked; capacity is the acked rate of the "
        "step before. The CPU columns are each component's share of one core over the step "
        "(gateway on its own core; chat, NATS, persistence, PostgreSQL and the load generator "
        "on the other): the one near 100% is what limits it. The target (x today's) is judged "
        "in the issue 18 section against the baseline's run."
    )
    return ScenarioResult(
        scenario="chat_capacity",
        title="Durable chat capacity, rooms of 10",
        method=method,
        columns=[
            "system",
            "offered msg/s",
            "acked msg/s",
            "lost",
            "unacked",
            "unsent",
            "p50 ms",
            "p99 ms",
            "ack p99 ms",
            "gateway CPU",
            *(f"{c} CPU" for c in COMPONENTS),
            "load generator CPU",
        ],
        rows=rows,
        notes=notes,
        data={"sizes": size.__dict__ | {"steps": list(size.steps)}, "systems": systems},
    )
