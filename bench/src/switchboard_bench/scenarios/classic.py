"""The classic load test: 1000 connections, each sending 10 messages 100 ms apart, in rooms of
10; nothing may be lost. Its latency percentiles beside the reference servers'."""

from typing import Any

from switchboard_bench.context import BenchContext
from switchboard_bench.measure import run_measured
from switchboard_bench.results import ScenarioResult, Target
from switchboard_bench.scenarios.common import limit_of, loadgen_notes, slim_step
from switchboard_bench.stats import format_number, format_ratio, ratio
from switchboard_bench.targets import SYSTEMS, start_system

__all__ = ["run", "summarise"]

P99_VS_NODE = 2.0
"""Issue 18: the gateway's p99 at most this many times the Node.js reference's, same run."""


def classic_config(ctx: BenchContext) -> dict[str, Any]:
    connections = 40 if ctx.quick else 1000
    return {
        "mode": "classic",
        "connections": connections,
        "roomSize": 10,
        "messages": 10,
        "gapMs": 100,
        "drainMs": 10000 if ctx.quick else 60000,
    }


def run(ctx: BenchContext) -> ScenarioResult:
    config = classic_config(ctx)
    raw: dict[str, dict[str, Any]] = {}
    for name in ctx.systems:
        print(f"   classic: {name}", flush=True)
        with start_system(name, ctx, connections=config["connections"], sender_rate=10) as system:
            raw[name] = run_measured(system, config, ctx.loadgen_core, timeout=300)
    return summarise(raw, config)


def summarise(raw: dict[str, dict[str, Any]], config: dict[str, Any]) -> ScenarioResult:
    rows: list[list[str | int | float | None]] = []
    steps: dict[str, dict[str, Any] | None] = {}
    for name, result in raw.items():
        step = next(iter(result.get("steps", [])), None)
        steps[name] = step
        lat = step["latency"] if step else {}
        own = step["own"] if step else {}
        rows.append(
            [
                SYSTEMS.get(name, name),
                step["sent"] if step else None,
                step["acked"] if step else None,
                step.get("retried") if step else None,
                step["delivered"] if step else None,
                step["lost"] if step else None,
                lat.get("p50"),
                lat.get("p90"),
                lat.get("p99"),
                lat.get("max"),
                own.get("p99"),
            ]
        )
    gw = steps.get("gateway")
    expected = config["connections"] * config["messages"]
    complete = gw is not None and (gw["lost"], gw["sent"], gw["acked"]) == (0, expected, expected)
    p99 = gw["latency"]["p99"] if gw else None
    sent, acked, lost = (gw["sent"], gw["acked"], gw["lost"]) if gw else (0, 0, "n/a")
    node = steps.get("node-ws")
    node_p99 = node["latency"]["p99"] if node else None
    vs_node = ratio(p99, node_p99)
    fast = vs_node is not None and vs_node <= P99_VS_NODE
    met = None if gw is None or (complete and vs_node is None) else complete and fast
    limit = ""
    if not complete:
        limit = limit_of("gateway", gw)
    elif vs_node is None:
        limit = "no Node.js reference in this run (--systems): the p99 ratio is not measured"
    elif not fast:
        limit = limit_of("gateway", gw)
    target = Target(
        name="Classic load test",
        goal=(
            f"{config['connections']} connections x {config['messages']} messages "
            f"{config['gapMs']} ms apart: nothing lost, every message acked, p99 <= "
            f"{P99_VS_NODE:g}x the Node.js reference's (same run)"
        ),
        measured=(
            f"{'nothing lost' if complete else 'incomplete'}: sent {sent:,} of {expected:,}, "
            f"acked {acked:,}, lost {lost} deliveries; p99 {format_number(p99, 2)} ms, "
            f"{format_ratio(vs_node)} of Node.js ({format_number(node_p99, 2)} ms)"
        ),
        met=met,
        limit="" if met else limit,
    )
    return ScenarioResult(
        scenario="classic",
        title="Classic load test",
        method=(
            f"{config['connections']} connections in rooms of {config['roomSize']}; each sends "
            f"{config['messages']} messages {config['gapMs']} ms apart (starts spread over the "
            f"first {config['gapMs']} ms), then the load generator waits up to "
            f"{config['drainMs'] / 1000:g} s for every copy and every ack. A message refused as "
            "`unavailable` is sent again with the same clientMsgId, as the protocol asks. "
            "Latency: every "
            "delivery (send to receive on the load generator's clock); the last column is the "
            "sender's own copy."
        ),
        columns=[
            "system",
            "sent",
            "acked",
            "retried (unavailable)",
            "delivered",
            "lost",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "own copy p99 ms",
        ],
        rows=rows,
        targets=[target],
        notes=loadgen_notes(raw),
        data={
            "config": config,
            "systems": {
                name: {
                    "steps": [slim_step(s, keep_histogram=True) for s in r.get("steps", [])],
                    "loadgen": r.get("loadgen"),
                    "errors": r.get("errors"),
                    "closes": r.get("closes"),
                }
                for name, r in raw.items()
            },
        },
    )
