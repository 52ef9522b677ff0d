"""``bench/REPORT.md``: rebuilt from ``bench/results/*.json`` (and its PNG plots beside it).

``switchboard-bench`` writes it after running scenarios; ``switchboard-bench --report-only``
rebuilds it from the last saved results without running anything.
"""

import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import psutil

from switchboard_bench.calibration import LOOPBACK, SPEED, readings
from switchboard_bench.chat_cost import (
    COST_LIMIT,
    COST_PARTS,
    GATEWAY_SHARE,
    Baseline,
    cost_table,
    issue_targets,
    load_baseline,
    short_commit,
    speed_warning,
)
from switchboard_bench.delivery_cost import (
    IDLE_MEMORY,
    WRITE_RATIO_LIMIT,
    delivery_targets,
    has_figures,
    write_table,
)
from switchboard_bench.loadgen import JS_DIR
from switchboard_bench.plots import PLOTTERS
from switchboard_bench.results import Cell, ScenarioResult, Target, load_results
from switchboard_bench.scenarios.common import CONTENDED

__all__ = ["machine_info", "render", "write_report"]

COMMANDS = """\
```sh
make bench                                         # every scenario, then this report
python3 -m uv run switchboard-bench --only fanout  # some scenarios (comma-separated), then report
python3 -m uv run switchboard-bench --systems gateway,node-ws --only fanout  # fewer systems
python3 -m uv run switchboard-bench --report-only  # rebuild this page from bench/results/*.json
python3 -m uv run switchboard-bench --quick        # tiny sizes: a smoke run, figures meaningless
# issue 18's baseline: today's main, from a tree whose services are main's, on a quiet machine
python3 -m uv run switchboard-bench --only persistence,fanout,latency,chat_capacity \
    --systems gateway --results-dir bench/results/baseline
# the after-run, compared with it (--baseline-dir: default bench/results/baseline)
python3 -m uv run switchboard-bench \
    --only persistence,path_floor,fanout,latency,chat_capacity,classic --systems gateway,node-ws
```"""

TOPOLOGY = (
    "Server under test pinned to core {server}; the load generator (one Node.js process) pinned "
    "to core {loadgen}. On the gateway's runs NATS, PostgreSQL and the other four services share "
    "the load generator's core: this machine has {cores} cores, so the gateway's figures include "
    "the cost of the rest of the system competing with the load generator, which the reference "
    "servers do not have."
)

SETUP = (
    "The gateway runs on the real path: embedded NATS with JetStream and PostgreSQL, all five "
    "services, presence on, auth on (HS256; the load generator mints one token per connection, "
    "one user each), its per-connection and per-user frame limits raised only as far as a "
    "scenario's busiest sender needs (1.5x its rate, never below the defaults), `LOG_LEVEL` "
    "WARNING, tracing as the chart sets it by default (the SDK on, 1% of new traces recorded, "
    "no exporter). The load generator (bench/js/loadgen.mjs, npm `ws`) reads frames with a lean"
    " parser, puts its send time in each message and measures latency on its own clock; it "
    "reports its own CPU, and each scenario's notes flag it when it neared its core."
)


def _run(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or out.stderr.strip()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info(speed_core: int | None = None) -> dict[str, Any]:
    """The machine and the versions of everything measured, as the results JSON keeps them;
    with ``speed_core``, also how fast Python and loopback TCP run there (``calibration``)."""
    from switchboard_devstack.nats_server import nats_server_binary  # noqa: PLC0415

    try:
        nats = _run([str(nats_server_binary()), "--version"])
    except (FileNotFoundError, RuntimeError):
        nats = "unknown"
    node = shutil.which("node")
    lock = JS_DIR / "package-lock.json"
    ws_version = "unknown"
    if lock.exists():
        packages = json.loads(lock.read_text()).get("packages", {})
        ws_version = packages.get("node_modules/ws", {}).get("version", "unknown")
    try:
        websockets_version = importlib.metadata.version("websockets")
    except importlib.metadata.PackageNotFoundError:
        websockets_version = "unknown"
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memoryGiB": round(psutil.virtual_memory().total / 2**30, 1),
        "kernel": platform.release(),
        "os": platform.platform(terse=True),
        "python": platform.python_version(),
        "node": _run([node, "--version"]) if node else "not installed",
        "nats": nats,
        "ws": ws_version,
        "websockets": websockets_version,
        **({} if speed_core is None else readings(speed_core)),
    }


def _cell(value: Cell) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def table(columns: list[str], rows: Iterable[list[Cell]]) -> str:
    lines = [
        "| " + " | ".join(_cell(c) for c in columns) + " |",
        "|" + "---|" * len(columns),
    ]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def verdict(met: bool | None) -> str:
    return {True: "met", False: "**not met**", None: "not measured"}[met]


def _target_lines(targets: Iterable[Target]) -> list[str]:
    """A section's targets as bullet points, with what limits the ones not met."""
    return [
        f"- {t.name}: {verdict(t.met)}. {t.measured}"
        + (f" Limited by: {t.limit}" if t.limit and not t.met else "")
        for t in targets
    ]


def summary(results: dict[str, ScenarioResult], baseline: Baseline | None = None) -> str:
    targets = [t for result in results.values() for t in result.targets]
    if _has_issue_figures(results):
        targets += issue_targets(results, baseline)
    if has_figures(results):
        targets += delivery_targets(results)
    rows: list[list[Cell]] = [
        [t.name, t.goal, t.measured, verdict(t.met), t.limit or "-"] for t in targets
    ]
    if not rows:
        return "_No targets measured yet._"
    return table(["target", "goal", "measured", "verdict", "what limits it"], rows)


def machine_section(results: dict[str, ScenarioResult]) -> str:
    machines = [r.data.get("machine") for r in results.values() if r.data.get("machine")]
    machine = machines[0] if machines else machine_info()
    assert isinstance(machine, dict)
    ctx = next((r.data.get("topology") for r in results.values() if r.data.get("topology")), None)
    topology = ctx if isinstance(ctx, dict) else {"server": 0, "loadgen": 1}
    lines = [
        f"- CPU: {machine.get('cpu')}, {machine.get('cores')} cores; "
        f"memory {machine.get('memoryGiB')} GiB",
        f"- Kernel {machine.get('kernel')} ({machine.get('os')})",
        f"- Python {machine.get('python')}, Node.js {machine.get('node')} (npm ws "
        f"{machine.get('ws')}), Python websockets {machine.get('websockets')}, "
        f"{machine.get('nats')}",
        "- "
        + TOPOLOGY.format(
            server=topology.get("server"),
            loadgen=topology.get("loadgen"),
            cores=machine.get("cores"),
        ),
        "- " + SETUP,
    ]
    if any(_without_speed(m) != _without_speed(machine) for m in machines):
        lines.append("- _The scenarios below were not all run on the same machine._")
    described = [m for m in machines if isinstance(m, dict)]
    shown = [
        f"{what} {_span([m.get(key) for m in described], unit)}"
        for key, what, unit in (
            (SPEED, "a fixed pure-Python workload took", "ms"),
            (LOOPBACK, "one 100-byte loopback TCP send and receive took", "µs"),
        )
        if any(m.get(key) for m in described)
    ]
    if shown:
        lines.append(
            "- Speed readings (`switchboard_bench.calibration`, on the server's core): "
            + "; ".join(shown)
            + ". Ratio targets compare systems in the same run; absolute figures (SSE, "
            "persistence, latency at half capacity) and whether the load generator nears its "
            "core depend on these: compare reports by them before comparing their figures."
        )
    return "\n".join(lines)


def _span(values: list[object], unit: str) -> str:
    """``"135 ms"`` or ``"135 to 180 ms across the runs below"``."""
    found = sorted({float(v) for v in values if isinstance(v, int | float)})
    if not found:
        return "-"
    low, high = f"{found[0]:,.4g} {unit}", f"{found[-1]:,.4g} {unit}"
    return low if len(found) == 1 else f"{low} to {high} across the runs below"


def _without_speed(machine: object) -> object:
    """A machine's description without its speed readings, which vary from run to run."""
    if not isinstance(machine, dict):
        return machine
    return {key: value for key, value in machine.items() if key not in (SPEED, LOOPBACK)}


def scenario_section(result: ScenarioResult, plots: list[str]) -> str:
    parts = [f"## {result.title}", "", f"`{result.scenario}`. {result.method}", ""]
    if result.columns:
        parts += [table(result.columns, result.rows), ""]
    if result.targets:
        parts += ["Targets:", "", *_target_lines(result.targets), ""]
    parts += [f"![{name}]({name})" for name in plots]
    if plots:
        parts.append("")
    if result.notes:
        parts += [f"- {note}" for note in result.notes] + [""]
    ran = result.data.get("ranAt")
    if ran:
        took = result.data.get("seconds")
        machine = result.data.get("machine")
        speed = machine.get(SPEED) if isinstance(machine, dict) else None
        loopback = machine.get(LOOPBACK) if isinstance(machine, dict) else None
        parts += [
            f"_Run at {ran}{' (--quick)' if result.data.get('quick') else ''}"
            f"{f', in {took:.0f} s' if isinstance(took, int | float) else ''}"
            f"{f'; speed readings {speed:,.0f} ms' if isinstance(speed, int | float) else ''}"
            f"{f', {loopback:,.1f} µs loopback' if isinstance(loopback, int | float) else ''}._",
            "",
        ]
    return "\n".join(parts)


def profiles_section(out_dir: Path) -> str:
    folder = out_dir / "profiles"
    files = sorted(p for p in folder.glob("*") if p.is_file()) if folder.is_dir() else []
    if not files:
        return ""
    links = [f"- [{p.name}](profiles/{p.name})" for p in files]
    return "\n".join(["## Profiles of the hot path", "", *links, ""])


def _waits(value: object) -> Iterable[float]:
    """Every ``serverWaitFraction`` anywhere in a result's data."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "serverWaitFraction" and isinstance(item, int | float):
                yield float(item)
            else:
                yield from _waits(item)
    elif isinstance(value, list):
        for item in value:
            yield from _waits(item)


def quiet_warning(results: dict[str, ScenarioResult]) -> str:
    """A banner when a server waited for its core: other processes ran there (not a quiet run)."""
    worst = {name: max(_waits(r.data), default=0.0) for name, r in results.items()}
    noisy = {name: w for name, w in worst.items() if w >= CONTENDED}
    quick = [name for name, r in results.items() if r.data.get("quick")]
    lines = []
    if noisy:
        listed = ", ".join(f"{name} (up to {w:.0%})" for name, w in noisy.items())
        lines.append(
            "> **Not a quiet run.** A server under test's event loop was runnable but waiting "
            f"for its core (other processes ran there): {listed} of a step. Ratios measured this "
            "way are not the machine's; rerun `make bench` on an otherwise idle machine."
        )
    if quick:
        lines.append(f"> **Smoke sizes (--quick)** for {', '.join(quick)}: figures mean nothing.")
    return "\n>\n".join(lines)


def _has_issue_figures(results: dict[str, ScenarioResult]) -> bool:
    return any(name in results for name in ("latency", "chat_capacity", "persistence"))


def _ran(results: dict[str, ScenarioResult], names: Iterable[str]) -> str:
    """When, and from which commit, each of the scenarios ``names`` ran."""
    return "; ".join(
        f"{n} at {results[n].data.get('ranAt', '?')} "
        f"({short_commit(results[n].data.get('commit'))})"
        for n in names
        if n in results
    )


def _runs_of(results: dict[str, ScenarioResult]) -> str:
    """When, and from which commit, each of issue 18's scenarios ran."""
    return _ran(results, ("persistence", "fanout", "latency", "chat_capacity"))


def issue_section(results: dict[str, ScenarioResult], baseline: Baseline | None) -> str:
    """Issue 18's targets, judged across this run's scenarios and against the baseline."""
    if not _has_issue_figures(results):
        return ""
    parts = [
        "## Issue 18: the durable chat path",
        "",
        "Judged from this run's `latency`, `fanout`, `persistence` and `chat_capacity` results "
        "and the baseline's (today's main: `switchboard-bench --only "
        "persistence,fanout,latency,chat_capacity --systems gateway --results-dir "
        "bench/results/baseline`).",
        "",
        f"Cost per acknowledged message: over the `latency` scenario's measured step (gateway, "
        f"2,000 msg/s in rooms of 10), the CPU of {', '.join(COST_PARTS)} and the gateway's "
        f"share for receiving and acking, divided by the messages acked in it. The gateway's "
        f"share: {GATEWAY_SHARE}. Notification and metrics-collector are not counted. The "
        f"store floor: NATS + PostgreSQL CPU per message written in the bulk `persistence` "
        f"scenario of the same run. Target: at most {COST_LIMIT:g}x the floor. The row 'bare "
        f"clients': the `path_floor` scenario of the same run, the path's NATS exchanges "
        f"made by bare nats-py processes (gateway: its sender; PostgreSQL: the store floor's "
        f"share), the least these hops cost without the services' own work.",
        "",
    ]
    columns, rows = cost_table(results, baseline)
    parts += [table(columns, rows), ""]
    parts += [f"This run: {_runs_of(results)}.", ""]
    if baseline is None:
        parts += ["_No baseline results: the ratios to today's are not measured._", ""]
    else:
        parts += [f"Baseline ({baseline.directory}): {baseline.describe()}.", ""]
        parts += [f"Baseline runs: {_runs_of(baseline.results)}.", ""]
        if baseline.quick:
            parts += [
                f"> **The baseline's {', '.join(baseline.quick)} ran at smoke sizes (--quick):** "
                "its figures, and the ratios to them, mean nothing.",
                "",
            ]
        warning = speed_warning(results, baseline)
        if warning:
            parts += [f"> **Speed readings differ:** {warning}.", ""]
    parts += ["Targets:", "", *_target_lines(issue_targets(results, baseline))]
    return "\n".join(parts) + "\n"


def delivery_section(results: dict[str, ScenarioResult]) -> str:
    """Issue 19's targets, judged across this run's ``sse_fanout``, ``fanout`` and
    ``idle_memory``."""
    if not has_figures(results):
        return ""
    parts = [
        "## Issue 19: performance, side by side in one run",
        "",
        "Judged from this run's `sse_fanout` and `fanout` results (and `idle_memory`'s own "
        "target). SSE cost: the gateway's CPU over `sse_fanout`'s measured broadcast divided by "
        "the streams that received it, against its CPU per delivered frame at `fanout`'s "
        "comparison step. Frame cost: at that step, each server's µs per frame less the part "
        "spent in the kernel (the user space), the kernel part beside it. A broadcast's write "
        "side: the CPU of notification, NATS, persistence and PostgreSQL from the broadcast "
        "request until persistence has committed what it stores (one `NOTIFY` entry for its "
        "audience; one per recipient in runs before broadcasts were stored once: the table's "
        "entries per broadcast), for `sse_fanout`'s measured broadcast to everyone and for its "
        f"broadcasts to a team of 10 (the median of them; target: at most {WRITE_RATIO_LIMIT:g}x "
        "apart).",
        "",
    ]
    columns, rows = write_table(results)
    if rows:
        parts += [table(columns, rows), ""]
    parts += [f"This run: {_ran(results, ('sse_fanout', 'fanout', 'idle_memory'))}.", ""]
    idle = [t for r in results.values() for t in r.targets if t.name == IDLE_MEMORY]
    parts += ["Targets:", "", *_target_lines([*delivery_targets(results), *idle])]
    return "\n".join(parts) + "\n"


def render(
    results: dict[str, ScenarioResult],
    plots: dict[str, list[str]],
    out_dir: Path,
    baseline: Baseline | None = None,
) -> str:
    parts = [
        "# Switchboard benchmarks",
        "",
        "<!-- Generated by switchboard-bench (make bench) from bench/results/*.json: "
        "do not edit. -->",
        "",
        "Every target of issue 10 (and of issues 18 and 19, each in its own section), measured "
        "side by side with two reference servers in the same session: the Node.js `ws` server "
        "that loops over a room's sockets (bench/js/reference-server.mjs) and the Python "
        "`websockets` library's `broadcast()` "
        "(switchboard_bench/references/websockets_broadcast.py).",
        "",
        quiet_warning(results),
        "",
        "## Summary",
        "",
        summary(results, baseline),
        "",
        "## Machine",
        "",
        machine_section(results),
        "",
        "## Commands",
        "",
        COMMANDS,
        "",
    ]
    for section in (issue_section(results, baseline), delivery_section(results)):
        if section:
            parts.append(section)
    for name, result in results.items():
        parts.append(scenario_section(result, plots.get(name, [])))
    profiles = profiles_section(out_dir)
    if profiles:
        parts.append(profiles)
    return "\n".join(parts).rstrip() + "\n"


def write_report(
    out_dir: Path, results_dir: Path | None = None, baseline_dir: Path | None = None
) -> Path:
    """``out_dir/REPORT.md`` from ``results_dir`` (default ``out_dir/results``), compared with
    the baseline in ``baseline_dir`` (default ``out_dir/results/baseline``) where it exists."""
    from switchboard_bench.scenarios import SCENARIOS  # noqa: PLC0415  (scenarios import us)

    found = load_results(results_dir or out_dir / "results")
    baseline = load_baseline(baseline_dir or out_dir / "results" / "baseline")
    order = [name for name in SCENARIOS if name in found] + sorted(set(found) - set(SCENARIOS))
    results = {name: found[name] for name in order}
    plots: dict[str, list[str]] = {}
    for name, result in results.items():
        drawn = PLOTTERS[name](result, out_dir) if name in PLOTTERS else []
        plots[name] = drawn + [p for p in result.plots if p not in drawn]
    path = out_dir / "REPORT.md"
    path.write_text(render(results, plots, out_dir, baseline))
    return path
