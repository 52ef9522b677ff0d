"""Room fan-out: 1000 receivers in one room; the offered message rate steps up until p99 passes
100 ms or anything is lost. Capacity is the last step that passed; CPU per delivered frame is
read at one load every system carries (60 messages/s: 60,000 deliveries/s).

CPU per frame at that load is then read again in ``FanoutSizes.comparison_rounds`` more rounds,
the gateway and the Node.js reference both started and measured in turn (the order
alternating), so that what the machine does meanwhile falls on both alike; a system's figure is
the median of its readings (``fanout_readings``).
"""

import contextlib
from dataclasses import dataclass
from typing import Any

from switchboard_bench.context import BenchContext
from switchboard_bench.fanout_readings import COMPARED, comparison_figures
from switchboard_bench.measure import run_measured
from switchboard_bench.profile import recording
from switchboard_bench.results import ScenarioResult, Target
from switchboard_bench.scenarios.common import deliveries, limit_of, loadgen_notes, slim_step
from switchboard_bench.stats import format_number, format_ratio, ratio
from switchboard_bench.targets import SYSTEMS, start_system

__all__ = ["FanoutSizes", "capacity_of", "run", "sizes"]

P99_LIMIT_MS = 100.0


@dataclass(frozen=True)
class FanoutSizes:
    receivers: int
    senders: int
    steps: tuple[int, ...]
    """Offered messages per second, in turn; each delivered to every receiver."""
    step_ms: int
    drain_ms: int
    efficiency_rate: int
    """The step whose CPU per frame is compared, or the highest step every system carried when
    one of them did not carry this one."""
    warmup_ms: int = 2000
    """A first step at the lowest rate, never judged: caches, JIT, first subscriptions."""
    comparison_rounds: int = 4
    """Rounds after the ladders that read CPU per frame again at the comparison rate."""


FULL = FanoutSizes(
    receivers=1000,
    senders=10,
    steps=(5, 10, 20, 40, 60, 80, 100, 120, 140, 160, 180, 200, 240, 280, 320, 360, 400, 480, 560),
    step_ms=4000,
    drain_ms=3000,
    efficiency_rate=60,
)
QUICK = FanoutSizes(
    receivers=50,
    senders=5,
    steps=(20, 40),
    step_ms=1000,
    drain_ms=2000,
    efficiency_rate=20,
    warmup_ms=500,
    comparison_rounds=1,
)


def sizes(ctx: BenchContext) -> FanoutSizes:
    return QUICK if ctx.quick else FULL


def passed(step: dict[str, Any]) -> bool:
    p99 = step["latency"]["p99"]
    return step["lost"] == 0 and p99 is not None and p99 <= P99_LIMIT_MS


def capacity_of(steps: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(the last step that passed before the first that did not, that first failing step)."""
    last_good = None
    for step in steps:
        if not passed(step):
            return last_good, step
        last_good = step
    return last_good, None


def _config(size: FanoutSizes, steps: list[int]) -> dict[str, Any]:
    return {
        "mode": "fanout",
        "connections": size.receivers,
        "senders": size.senders,
        "steps": steps,
        "stepMs": size.step_ms,
        "drainMs": size.drain_ms,
        "stopP99Ms": P99_LIMIT_MS,
        "stopOnLoss": True,
        "warmupMs": size.warmup_ms,
        "warmupRate": size.steps[0],
    }


def _timeout(size: FanoutSizes, steps: int) -> float:
    return 120 + steps * (size.step_ms + size.drain_ms + 2000) / 1000


def run_system(name: str, ctx: BenchContext, size: FanoutSizes) -> dict[str, Any]:
    config = _config(size, list(size.steps))
    timeout = _timeout(size, len(size.steps))
    sender_rate = max(size.steps) / size.senders
    with start_system(name, ctx, connections=size.receivers, sender_rate=sender_rate) as system:
        if not (ctx.profile and name == "gateway"):
            return run_measured(system, config, ctx.loadgen_core, timeout)
        output = ctx.profile_path("gateway-fanout")
        with recording(system.server.pid, output, ctx.loadgen_core):
            return run_measured(system, config, ctx.loadgen_core, timeout)


def run_rounds(ctx: BenchContext, size: FanoutSizes, rate: int) -> list[dict[str, dict[str, Any]]]:
    """``size.comparison_rounds`` rounds at ``rate``: each of ``COMPARED`` (both running, the
    order alternating) carries one warm-up and one step; per round, each one's step."""
    names = [name for name in COMPARED if name in ctx.systems]
    if len(names) < len(COMPARED):
        return []
    config, timeout = _config(size, [rate]), _timeout(size, 1)
    sender_rate = max(size.steps) / size.senders
    rounds: list[dict[str, dict[str, Any]]] = []
    with contextlib.ExitStack() as stack:
        running = {
            name: stack.enter_context(
                start_system(name, ctx, connections=size.receivers, sender_rate=sender_rate)
            )
            for name in names
        }
        for index in range(size.comparison_rounds):
            print(f"   fanout: comparison round {index + 1}", flush=True)
            measured: dict[str, dict[str, Any]] = {}
            for name in names if index % 2 == 0 else names[::-1]:
                result = run_measured(running[name], config, ctx.loadgen_core, timeout)
                step = next((s for s in result.get("steps", []) if not s.get("warmup")), None)
                measured[name] = slim_step(step) if step else {"lost": None}
            rounds.append(measured)
    return rounds


def run(ctx: BenchContext) -> ScenarioResult:
    size = sizes(ctx)
    raw: dict[str, dict[str, Any]] = {}
    for name in ctx.systems:
        print(f"   fanout: {name}", flush=True)
        raw[name] = run_system(name, ctx, size)
    for result in raw.values():
        result["steps"] = [s for s in result.get("steps", []) if not s.get("warmup")]
    rounds = run_rounds(ctx, size, efficiency_rate(raw, size))
    return summarise(raw, size, rounds)


def efficiency_rate(raw: dict[str, dict[str, Any]], size: FanoutSizes) -> int:
    """The configured comparison rate, or the highest step every system carried (passed) when
    one carried less; the lowest step when one carried none."""
    rate = size.efficiency_rate
    for result in raw.values():
        good, _ = capacity_of(result.get("steps", []))
        carried = int(good["offeredRate"]) if good else size.steps[0]
        rate = min(rate, carried)
    return rate


def summarise(
    raw: dict[str, dict[str, Any]],
    size: FanoutSizes,
    rounds: list[dict[str, dict[str, Any]]] | None = None,
) -> ScenarioResult:
    figures: dict[str, dict[str, Any]] = {}
    for result in raw.values():
        result["steps"] = [s for s in result.get("steps", []) if not s.get("warmup")]
    rate = efficiency_rate(raw, size)
    for name, result in raw.items():
        steps = result["steps"]
        good, bad = capacity_of(steps)
        efficiency = next((s for s in steps if s.get("offeredRate") == rate), None)
        figures[name] = {
            "capacity": good["deliveriesPerSecond"] if good else None,
            "capacityRate": good["offeredRate"] if good else None,
            "failedStep": bad,
            "stoppedBecause": result.get("stoppedBecause"),
            "efficiency": efficiency,
            # Every step carried: the ladder's top is a lower bound, not the capacity.
            "atLeast": good is not None and bad is None,
        }
    data: dict[str, Any] = {
        "sizes": size.__dict__,
        "efficiencyRate": rate,
        "systems": {
            name: {
                "capacity": f["capacity"],
                "capacityRate": f["capacityRate"],
                "stoppedBecause": f["stoppedBecause"],
                "connections": raw[name].get("connections"),
                "loadgen": raw[name].get("loadgen"),
                "errors": raw[name].get("errors"),
                "closes": raw[name].get("closes"),
                "steps": [
                    slim_step(s, keep_histogram=s.get("offeredRate") == rate)
                    for s in raw[name].get("steps", [])
                ],
            }
            for name, f in figures.items()
        },
        "comparisonRounds": rounds or [],
    }
    for name in COMPARED:
        if name in figures and rounds:
            figures[name]["median"] = comparison_figures(data, name)
    gw, node, py = (figures.get(n, {}) for n in ("gateway", "node-ws", "websockets"))

    def eff(f: dict[str, Any], key: str) -> float | None:
        """A system's CPU per frame at the comparison rate: the median over the readings
        where there were comparison rounds, else the ladder's step."""
        if f.get("median") is not None:
            value: float | None = f["median"].get(key)
            return value
        step = f.get("efficiency")
        return step.get(key) if step and step.get("lost") == 0 else None

    rows: list[list[str | int | float | None]] = []
    for name, f in figures.items():
        rows.append(
            [
                SYSTEMS.get(name, name),
                ("≥ " if f["atLeast"] else "") + deliveries(f["capacity"]),
                f["capacityRate"],
                format_number(eff(f, "serverCpuMicrosPerDelivery"), 2),
                format_number(eff(f, "serverKernelMicrosPerDelivery"), 2),
                format_number(eff(f, "systemCpuMicrosPerDelivery"), 2),
                _p99(f.get("efficiency")),
                format_ratio(ratio(gw.get("capacity"), f["capacity"])),
                f["stoppedBecause"],
            ]
        )
    cap_vs_node = ratio(gw.get("capacity"), node.get("capacity"))
    below_ladder = bool(gw) and gw.get("capacity") is None and bool(node.get("capacity"))
    cap_vs_py = ratio(gw.get("capacity"), py.get("capacity"))
    cpu_vs_node = ratio(
        eff(gw, "serverCpuMicrosPerDelivery"), eff(node, "serverCpuMicrosPerDelivery")
    )
    cpu_vs_py = ratio(eff(gw, "serverCpuMicrosPerDelivery"), eff(py, "serverCpuMicrosPerDelivery"))
    targets = [
        Target(
            name="Fan-out capacity",
            goal=">= 1.25x the Node.js ws reference's deliveries/s (p99 <= 100 ms, nothing lost)",
            measured=(
                f"gateway below the lowest step ({size.steps[0] * size.receivers:,}/s) vs "
                f"{deliveries(node.get('capacity'))} for Node.js"
                if below_ladder
                else f"{'at least ' if gw.get('atLeast') else ''}{format_ratio(cap_vs_node)} of"
                f" Node.js ({deliveries(gw.get('capacity'))} vs "
                f"{deliveries(node.get('capacity'))}); {format_ratio(cap_vs_py)} of websockets "
                f"({deliveries(py.get('capacity'))})"
            ),
            met=False if below_ladder else None if cap_vs_node is None else cap_vs_node >= 1.25,
            limit="" if cap_vs_node is not None and cap_vs_node >= 1.25 else _capacity_limit(gw),
        ),
        Target(
            name="Fan-out CPU per delivered frame",
            goal=(
                f"gateway CPU per frame <= 2/3 of the Node.js reference's at "
                f"{rate * size.receivers:,} deliveries/s"
            ),
            measured=(
                f"{format_ratio(cpu_vs_node)} of Node.js "
                f"({format_number(eff(gw, 'serverCpuMicrosPerDelivery'), 2)} vs "
                f"{format_number(eff(node, 'serverCpuMicrosPerDelivery'), 2)} µs); "
                f"{format_ratio(cpu_vs_py)} of websockets "
                f"({format_number(eff(py, 'serverCpuMicrosPerDelivery'), 2)} µs); whole system "
                f"{format_number(eff(gw, 'systemCpuMicrosPerDelivery'), 2)} µs"
            ),
            met=None if cpu_vs_node is None else cpu_vs_node <= 2 / 3,
            limit=""
            if cpu_vs_node is not None and cpu_vs_node <= 2 / 3
            else _efficiency_limit(gw.get("efficiency"), node.get("efficiency")),
        ),
    ]
    method = (
        f"{size.receivers} WebSocket connections join one room; the first {size.senders} of "
        f"them also send. The offered rate steps through {', '.join(map(str, size.steps))} "
        f"messages/s, {size.step_ms / 1000:g} s each, every message delivered to all "
        f"{size.receivers} members (deliveries/s = rate x {size.receivers}); after each step the "
        f"load generator waits up to {size.drain_ms / 1000:g} s for every copy. The ladder stops "
        f"at the first step whose delivery p99 passes {P99_LIMIT_MS:g} ms or that loses anything; "
        f"capacity is the deliveries/s measured at the step before. CPU per delivered frame is "
        f"the server's CPU time over the {rate} messages/s step (the configured "
        f"{size.efficiency_rate}, or the highest step every system carried when lower) divided "
        f"by the frames delivered in it; the whole system's (gateway + NATS + PostgreSQL + chat + "
        f"persistence + notification + metrics-collector) beside it."
    )
    if rounds:
        method += (
            f" After the ladders, {' and '.join(COMPARED)} both run and carry that step again in "
            f"turn, {len(rounds)} rounds (a warm-up and the step each, the order alternating); "
            f"their CPU per frame is the median over the ladder's step and these rounds (each "
            f"reading is in the results' comparisonRounds)."
        )
    notes = loadgen_notes(raw)
    return ScenarioResult(
        scenario="fanout",
        title="Room fan-out: capacity and CPU per delivered frame",
        method=method,
        columns=[
            "system",
            "capacity (deliveries/s)",
            "at msg/s",
            f"server µs/frame @{rate} msg/s",
            "of it in the kernel",
            "whole system µs/frame",
            f"p99 ms @{rate} msg/s",
            "gateway ÷ this (capacity)",
            "ladder stopped because",
        ],
        rows=rows,
        targets=targets,
        notes=notes,
        data=data,
    )


def _capacity_limit(gateway: dict[str, Any]) -> str:
    if not gateway:
        return "the gateway was not run"
    if gateway.get("failedStep") is None:
        return "the gateway passed every step: the ladder ends below its capacity"
    return limit_of("gateway", gateway["failedStep"])


def _p99(step: dict[str, Any] | None) -> float | None:
    if not step:
        return None
    value = step["latency"]["p99"]
    return None if value is None else round(float(value), 2)


def _efficiency_limit(step: dict[str, Any] | None, node: dict[str, Any] | None) -> str:
    if step is None:
        return "the gateway did not carry the comparison load"
    parts = ", ".join(
        f"{k} {v * 1e6 / max(1, step.get('deliveredInWindow') or 1):.2f} µs"
        for k, v in sorted((step.get("systemCpu") or {}).items(), key=lambda kv: -kv[1])
    )
    kernel = step.get("serverKernelMicrosPerDelivery")
    node_kernel = (node or {}).get("serverKernelMicrosPerDelivery")
    kernel_part = (
        f"; of the gateway's figure {kernel:.2f} µs is kernel time (one socket write per member "
        f"per message: at this rate a member rarely has two frames to coalesce), "
        f"{node_kernel:.2f} µs of Node.js's"
        if kernel is not None and node_kernel is not None
        else ""
    )
    return (
        "the gateway's own CPU per delivered frame (where it goes: the py-spy flame graph in "
        f"bench/profiles/, from `switchboard-bench --profile`){kernel_part}; the rest of the "
        f"system per frame: {parts}"
    )
