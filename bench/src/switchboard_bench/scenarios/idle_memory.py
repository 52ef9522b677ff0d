"""Idle memory: 10,000 idle WebSocket connections per system; KB per connection is the server's
RSS growth while they are held, divided by the connections open."""

from typing import Any

from switchboard_bench.context import BenchContext
from switchboard_bench.measure import run_measured
from switchboard_bench.results import ScenarioResult, Target
from switchboard_bench.stats import format_number, format_ratio, ratio
from switchboard_bench.targets import SYSTEMS, start_system

__all__ = ["run", "summarise"]

FULL_CONNECTIONS = 10_000
QUICK_CONNECTIONS = 200

LIMIT = (
    "the gateway's per-connection state (not broken down by this run; see "
    "profiles/README-idle-memory.md, session 5: uvicorn, its task and scope, uvloop's transport "
    "and our lean protocol's parts ~5.3 KB, websockets' ServerProtocol ~1.7 KB, the session "
    "~1.6 KB, the user's NATS subscription and hub entries ~1.5 KB, ASGI layers ~1.0 KB)"
)


def run(ctx: BenchContext) -> ScenarioResult:
    connections = QUICK_CONNECTIONS if ctx.quick else FULL_CONNECTIONS
    raw: dict[str, dict[str, Any]] = {}
    for name in ctx.systems:
        print(f"   idle_memory: {name}", flush=True)
        config = {"mode": "idle", "connections": connections, "connectConcurrency": 200}
        with start_system(name, ctx, connections=connections) as system:
            raw[name] = run_measured(system, config, ctx.loadgen_core, timeout=600)
    return summarise(raw, connections)


def kib(value: float | None) -> float | None:
    return None if value is None else value / 1024


def mib(value: float | None) -> float | None:
    return None if value is None else value / 2**20


def summarise(raw: dict[str, dict[str, Any]], connections: int) -> ScenarioResult:
    per_conn = {name: kib(r.get("memory", {}).get("bytesPerConnection")) for name, r in raw.items()}
    gateway = per_conn.get("gateway")
    rows: list[list[str | int | float | None]] = []
    for name, result in raw.items():
        memory = result.get("memory", {})
        rows.append(
            [
                SYSTEMS.get(name, name),
                result["connections"]["open"],
                round(result["connections"]["seconds"], 1),
                format_number(mib(memory.get("rssBefore")), 1),
                format_number(mib(memory.get("rssHeld")), 1),
                format_number(per_conn[name], 1),
                format_ratio(ratio(gateway, per_conn[name])),
            ]
        )
    vs_node = ratio(gateway, per_conn.get("node-ws"))
    vs_py = ratio(gateway, per_conn.get("websockets"))
    met = None if vs_node is None else vs_node <= 1.0
    target = Target(
        name="Memory per idle connection",
        goal=f"gateway KB per idle connection <= the Node.js reference's, at {connections:,}",
        measured=(
            f"{format_ratio(vs_node)} of Node.js ({format_number(gateway, 1)} vs "
            f"{format_number(per_conn.get('node-ws'), 1)} KB); {format_ratio(vs_py)} of "
            f"websockets ({format_number(per_conn.get('websockets'), 1)} KB)"
        ),
        met=met,
        limit=""
        if met
        else "a server's RSS did not grow: too few connections to measure"
        if met is None
        else LIMIT,
    )
    py_met = None if vs_py is None else vs_py <= 1.0
    py_target = Target(
        name="Memory per idle connection (issue 19)",
        goal=(
            "gateway KB per idle connection <= the Python websockets reference's, at "
            f"{connections:,}, same run"
        ),
        measured=(
            f"{format_ratio(vs_py)} of websockets ({format_number(gateway, 1)} vs "
            f"{format_number(per_conn.get('websockets'), 1)} KB)"
        ),
        met=py_met,
        limit=""
        if py_met
        else "not run: the websockets reference is not among the systems, or did not grow"
        if py_met is None
        else LIMIT,
    )
    notes = []
    growth = raw.get("gateway", {}).get("memory", {}).get("othersGrowth") or {}
    if growth:
        parts = ", ".join(
            f"{name} {value / 2**20:+.1f} MiB" for name, value in sorted(growth.items())
        )
        notes.append(f"The rest of the gateway's system meanwhile (RSS growth): {parts}.")
    return ScenarioResult(
        scenario="idle_memory",
        notes=notes,
        title="Memory per idle connection",
        method=(
            f"{connections:,} WebSocket connections open (200 handshakes in flight at a time; "
            "the gateway's with a JWT each, one user per connection) and are held without "
            "joining a room. The server's RSS is read before the first connection and again "
            "once it stops growing while all are held; KB per connection = growth / connections."
        ),
        columns=[
            "system",
            "open",
            "seconds to open",
            "RSS before (MiB)",
            "RSS held (MiB)",
            "KB per connection",
            "gateway ÷ this",
        ],
        rows=rows,
        targets=[target, py_target],
        data={
            "connections": connections,
            "systems": {
                name: {
                    "bytesPerConnection": r.get("memory", {}).get("bytesPerConnection"),
                    "memory": r.get("memory"),
                    "connections": r.get("connections"),
                    "loadgen": r.get("loadgen"),
                    "closes": r.get("closes"),
                }
                for name, r in raw.items()
            },
        },
    )
