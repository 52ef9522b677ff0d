"""End-to-end latency: 1000 connections in rooms of 10, each sending every 500 ms (2,000
messages and 20,000 deliveries per second); p99 of the sender's own copy coming back. Then the
gateway alone at half of its measured fan-out capacity (bench/results/fanout.json)."""

from typing import Any

from switchboard_bench.context import BenchContext
from switchboard_bench.measure import run_measured
from switchboard_bench.profile import recording
from switchboard_bench.results import ScenarioResult, Target, load_results
from switchboard_bench.scenarios import fanout
from switchboard_bench.scenarios.common import SATURATED, limit_of, loadgen_notes, slim_step
from switchboard_bench.stats import format_number, format_ratio, ratio
from switchboard_bench.targets import SYSTEMS, start_system

__all__ = ["run", "summarise"]

HALF_CAPACITY_P99_MS = 50.0
ROOMS_P99_MS = 50.0
"""Issue 18: the gateway's p99 (own copy back) at 2,000 msg/s in rooms of 10, absolute."""


def rooms_config(ctx: BenchContext) -> dict[str, Any]:
    if ctx.quick:
        return {
            "mode": "rooms",
            "connections": 40,
            "roomSize": 10,
            "intervalMs": 500,
            "warmupMs": 500,
            "durationMs": 2000,
            "drainMs": 3000,
        }
    return {
        "mode": "rooms",
        "connections": 1000,
        "roomSize": 10,
        "intervalMs": 500,
        "warmupMs": 3000,
        "durationMs": 10000,
        "drainMs": 5000,
    }


def measured_step(result: dict[str, Any]) -> dict[str, Any] | None:
    return next((s for s in result.get("steps", []) if s.get("label") == "measure"), None)


def run(ctx: BenchContext) -> ScenarioResult:
    config = rooms_config(ctx)
    raw: dict[str, dict[str, Any]] = {}
    for name in ctx.systems:
        print(f"   latency: {name}", flush=True)
        with start_system(name, ctx, connections=config["connections"], sender_rate=2) as system:
            if not (ctx.profile and name == "gateway"):
                raw[name] = run_measured(system, config, ctx.loadgen_core, timeout=300)
                continue
            # The write path's own flame graphs: the gateway (receiving, passing on, acking)
            # and chat (accepting and storing), over the whole run.
            with (
                recording(system.server.pid, ctx.profile_path("latency-gateway")),
                recording(system.others["chat"].pid, ctx.profile_path("latency-chat")),
            ):
                raw[name] = run_measured(system, config, ctx.loadgen_core, timeout=300)
    half = None
    if "gateway" in ctx.systems:
        half = half_capacity(ctx)
    return summarise(raw, config, half)


def half_capacity(ctx: BenchContext) -> dict[str, Any]:
    """The gateway at half of its fan-out capacity from the last fan-out run."""
    saved = load_results(ctx.results_dir).get("fanout")
    systems = saved.data.get("systems") if saved else None
    gateway = systems.get("gateway") if isinstance(systems, dict) else None
    rate = gateway.get("capacityRate") if isinstance(gateway, dict) else None
    if not rate:
        why = (
            "the gateway passed no step of the last fan-out run (p99 over 100 ms or a loss at "
            "the lowest rate)"
            if gateway
            else "no gateway fan-out result in bench/results/fanout.json: run fanout first"
        )
        return {"skipped": why}
    size = fanout.sizes(ctx)
    half_rate = max(1, int(rate) // 2)
    config = {
        "mode": "fanout",
        "connections": size.receivers,
        "senders": size.senders,
        "steps": [half_rate],
        "stepMs": size.step_ms * 2,
        "drainMs": size.drain_ms,
        "warmupMs": size.warmup_ms,
        "warmupRate": half_rate,
        "stopOnLoss": False,
    }
    print(f"   latency: gateway at half capacity ({half_rate} msg/s)", flush=True)
    with start_system(
        "gateway", ctx, connections=size.receivers, sender_rate=half_rate / size.senders
    ) as system:
        result = run_measured(system, config, ctx.loadgen_core, timeout=300)
    steps = [s for s in result.get("steps", []) if not s.get("warmup")]
    return {
        "capacityRate": rate,
        "rate": half_rate,
        "step": steps[-1] if steps else None,
        "capacityBoundBy": second_core_bound(gateway) if isinstance(gateway, dict) else None,
    }


def second_core_bound(gateway: dict[str, Any]) -> str | None:
    """What stopped the gateway's fan-out ladder, when it was the second core (load generator
    and the rest of the system) and not the gateway's: then its capacity is a lower bound, and
    half of it is not half of the gateway's. None when the gateway's core was the limit, or the
    ladder never failed."""
    rate = gateway.get("capacityRate")
    failing = next(
        (
            step
            for step in gateway.get("steps", [])
            if isinstance(step, dict) and (step.get("offeredRate") or 0) > (rate or 0)
        ),
        None,
    )
    if failing is None:
        return None
    server = failing.get("serverCpuFraction") or 0.0
    second = (failing.get("loadgenCpuFraction") or 0.0) + (failing.get("restCpuFraction") or 0.0)
    if server >= SATURATED or second < SATURATED:
        return None
    return (
        f"the fan-out capacity was the second core's (load generator and the rest of the system "
        f"{second:.0%} at the failing step, the gateway {server:.0%}): a lower bound, so half of "
        "it is not half of the gateway's capacity"
    )


def summarise(
    raw: dict[str, dict[str, Any]], config: dict[str, Any], half: dict[str, Any] | None
) -> ScenarioResult:
    own_p99 = {}
    rows: list[list[str | int | float | None]] = []
    for name, result in raw.items():
        step = measured_step(result)
        own = step["own"] if step else {}
        own_p99[name] = own.get("p99")
        rows.append(
            [
                SYSTEMS.get(name, name),
                own.get("p50"),
                own.get("p90"),
                own.get("p99"),
                own.get("p999"),
                own.get("max"),
                step["latency"]["p99"] if step else None,
                round(step["sentPerSecond"]) if step else None,
                step["lost"] if step else None,
            ]
        )
    gw = own_p99.get("gateway")
    vs_node = ratio(gw, own_p99.get("node-ws"))
    vs_py = ratio(gw, own_p99.get("websockets"))
    gw_step = measured_step(raw["gateway"]) if "gateway" in raw else None
    met = None if gw is None or gw_step is None else gw <= ROOMS_P99_MS and gw_step["lost"] == 0
    rate = n_rate = config["connections"] * 1000 // config["intervalMs"]
    if gw_step is not None and gw_step.get("sentPerSecond"):
        rate = round(gw_step["sentPerSecond"])
    targets = [
        Target(
            name="Latency, rooms of 10",
            goal=(
                f"gateway p99 (own copy back) <= {ROOMS_P99_MS:g} ms at {n_rate:,} msg/s, "
                "nothing lost"
            ),
            measured=(
                f"p99 {format_number(gw, 2)} ms at {rate:,} msg/s"
                + (f", lost {gw_step['lost']}" if gw_step else "")
                + (
                    f", acked {gw_step['acked']:,} of {gw_step['sent']:,}"
                    if gw_step and gw_step.get("acked") is not None
                    else ""
                )
                + f"; context: {format_ratio(vs_node)} of Node.js ("
                f"{format_number(own_p99.get('node-ws'), 2)} ms), {format_ratio(vs_py)} of "
                f"websockets ({format_number(own_p99.get('websockets'), 2)} ms)"
            ),
            met=met,
            limit="" if met else limit_of("gateway", gw_step),
        )
    ]
    notes = loadgen_notes(raw)
    if half is not None:
        step = half.get("step")
        p99 = step["latency"]["p99"] if step else None
        bound = half.get("capacityBoundBy")
        half_met = (
            None
            if step is None or p99 is None or bound
            else p99 <= HALF_CAPACITY_P99_MS and step["lost"] == 0
        )
        targets.append(
            Target(
                name="Latency at half fan-out capacity",
                goal=f"gateway delivery p99 <= {HALF_CAPACITY_P99_MS:g} ms at half its capacity",
                measured=(
                    f"p99 {format_number(p99, 2)} ms at {half.get('rate')} msg/s to 1000 "
                    f"receivers (capacity {half.get('capacityRate')} msg/s)"
                    if step
                    else "n/a"
                ),
                met=half_met,
                limit=""
                if half_met
                else (bound or half.get("skipped") or limit_of("gateway", step)),
            )
        )
        if step:
            notes.append(
                f"Gateway at half capacity: {step['deliveriesPerSecond']:,.0f} deliveries/s, "
                f"p50 {step['latency']['p50']} / p99 {step['latency']['p99']} / max "
                f"{step['latency']['max']} ms, lost {step['lost']}."
            )
    n = config["connections"]
    method = (
        f"{n} connections in rooms of {config['roomSize']}; each sends a message every "
        f"{config['intervalMs']} ms ({n * 1000 // config['intervalMs']:,} messages/s, "
        f"{n * 1000 // config['intervalMs'] * config['roomSize']:,} deliveries/s), timers spread "
        f"evenly over the period. {config['warmupMs'] / 1000:g} s of warm-up, then "
        f"{config['durationMs'] / 1000:g} s measured. Latency is the sender's own copy coming "
        "back (send to receive on the load generator's clock); the table also gives the p99 of "
        "every delivery. Then the gateway alone: 1000 receivers in one room at half of the "
        "fan-out capacity the fanout scenario measured."
    )
    return ScenarioResult(
        scenario="latency",
        title="End-to-end latency",
        method=method,
        columns=[
            "system",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "p99.9 ms",
            "max ms",
            "all deliveries p99 ms",
            "messages/s",
            "lost",
        ],
        rows=rows,
        targets=targets,
        notes=notes,
        data={
            "config": config,
            "systems": {
                name: {
                    "steps": [
                        slim_step(s, keep_histogram=s.get("label") == "measure")
                        for s in r.get("steps", [])
                    ],
                    "loadgen": r.get("loadgen"),
                    "errors": r.get("errors"),
                    "closes": r.get("closes"),
                }
                for name, r in raw.items()
            },
            "halfCapacity": {k: v for k, v in (half or {}).items() if k != "step"}
            | ({"step": slim_step(half["step"])} if half and half.get("step") else {}),
        },
    )
