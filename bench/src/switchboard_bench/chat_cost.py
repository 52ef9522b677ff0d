"""Issue 18, "the durable chat path at a quarter of its cost": its figures and targets, computed
from saved results (this run's and the baseline's), so that the report can judge them whenever
the baseline was run.

- **Cost**: the whole system's CPU per acknowledged chat message at 2,000 messages/s in rooms of
  10 (the ``latency`` scenario's gateway run, its measured step), against the store floor: NATS +
  PostgreSQL CPU per message written in the bulk ``persistence`` scenario of the same run.
  ``cost_of`` says how each process's part is counted (``GATEWAY_SHARE``).
- **Chat capacity**: the ``chat_capacity`` ladder's last passing step (``capacity_pick``), its
  acked rate against the baseline's.
- **The path with bare clients** (``path_floor``): the same exchanges made by three bare nats-py
  processes (``bare_path``), set beside the cost: what NATS and Python need for the path's
  messages before any of the services' own work.
- **Baseline**: the results of today's main, written by ``switchboard-bench --results-dir
  bench/results/baseline`` (``load_baseline``); their speed readings are compared with this
  run's (``speed_differences``) since a ratio across two runs only holds on machines of equal
  speed.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from switchboard_bench.calibration import LOOPBACK, SPEED
from switchboard_bench.fanout_readings import comparison_figures
from switchboard_bench.results import ScenarioResult, Target, field_at, load_results

__all__ = [
    "COST_LIMIT",
    "COST_PARTS",
    "GATEWAY_SHARE",
    "P99_LIMIT_MS",
    "SPEED_TOLERANCE",
    "Baseline",
    "ChatCost",
    "acked_rate",
    "bare_path",
    "capacity_of_result",
    "capacity_pick",
    "capacity_target",
    "cost_of",
    "cost_table",
    "cost_target",
    "issue_targets",
    "load_baseline",
    "short_commit",
    "speed_differences",
    "speed_warning",
    "step_passed",
]

COST_LIMIT = 4.0
"""Whole-system CPU per acked message at most this many times the store floor."""
CAPACITY_FACTOR = 4.0
"""Chat capacity at least this many times the baseline's."""
P99_LIMIT_MS = 100.0
"""A chat capacity step passes with every delivery's p99 at most this."""
SPEED_TOLERANCE = 0.15
"""Speed readings further apart than this make a ratio to the baseline doubtful."""
COST_PARTS = ("chat", "nats", "persistence", "postgres")
"""The processes whose whole CPU over the window is the chat path's (besides the gateway's
share); notification and metrics-collector are not counted (shown beside, for context)."""
GATEWAY_SHARE = (
    "the gateway's CPU over the measured window minus the frames it delivered in that window "
    "times its CPU per delivered frame in the `fanout` scenario of the same run (the gateway "
    "step at its comparison rate, 60 msg/s to 1000 receivers), floored at 0: what remains is "
    "receiving each chat frame, passing it to chat, acking it, and taking each message once off "
    "NATS for its room (in the fan-out that last part is spread over 1000 receivers, here over "
    "10, so it lands in this share)"
)


@dataclass(frozen=True)
class ChatCost:
    """CPU per acked message of each part of the durable chat path, in µs."""

    acked: int
    parts: dict[str, float]
    """``gateway`` (its share, see ``GATEWAY_SHARE``) and each of ``COST_PARTS``."""
    not_counted: dict[str, float] = field(default_factory=dict)
    """The other components' µs per message over the same window (context only)."""
    floor: float | None = None
    """NATS + PostgreSQL µs per message written in the bulk persistence scenario."""
    gateway_us_per_frame: float | None = None
    gateway_total_us: float | None = None
    """The gateway's whole CPU over the window per acked message (before taking its share)."""

    @property
    def total(self) -> float:
        return sum(self.parts.values())

    @property
    def ratio(self) -> float | None:
        return self.total / self.floor if self.floor else None

    def parts_text(self) -> str:
        return ", ".join(f"{name} {us:,.1f}" for name, us in self.parts.items())


def measured_step(latency: ScenarioResult | None) -> dict[str, Any] | None:
    steps = field_at(latency.data, "systems", "gateway", "steps") if latency else None
    return next(
        (s for s in steps or [] if isinstance(s, dict) and s.get("label") == "measure"), None
    )


def fanout_us_per_frame(fanout: ScenarioResult | None) -> float | None:
    """The gateway's CPU per delivered frame at the fan-out's comparison rate (the median over
    its readings there)."""
    figures = comparison_figures(fanout.data, "gateway") if fanout else None
    return None if figures is None else float(figures["serverCpuMicrosPerDelivery"])


def store_floor(persistence: ScenarioResult | None) -> float | None:
    per = field_at(persistence.data, "cpu_us_per_message") if persistence else None
    if not isinstance(per, dict) or "nats" not in per or "postgres" not in per:
        return None
    return float(per["nats"]) + float(per["postgres"])


BARE_ROLES = {"gateway": "sender", "chat": "chat", "nats": "nats", "persistence": "persistence"}
"""The cost's parts and the ``path_floor`` process that does the same hop's bus work bare."""


def bare_path(results: dict[str, ScenarioResult]) -> ChatCost | None:
    """The ``path_floor`` run's µs per message in the cost's parts (PostgreSQL: the store
    floor's share of it, since the bare persistence writes nothing); None without a complete
    run."""
    floor_run = results.get("path_floor")
    per = field_at(floor_run.data, "cpu_us_per_message") if floor_run else None
    if not isinstance(per, dict) or floor_run is None or not floor_run.data.get("complete"):
        return None
    persistence = results.get("persistence")
    bulk = field_at(persistence.data, "cpu_us_per_message") if persistence else None
    postgres = float(bulk["postgres"]) if isinstance(bulk, dict) and "postgres" in bulk else 0.0
    parts = {part: float(per.get(role, 0.0)) for part, role in BARE_ROLES.items()}
    return ChatCost(
        acked=int(str(floor_run.data.get("acked") or 0)),
        parts=parts | {"postgres": postgres},
        floor=store_floor(persistence),
    )


def cost_of(results: dict[str, ScenarioResult]) -> ChatCost | None:
    """The cost per acked message from one run's ``latency`` (and ``fanout`` for the gateway's
    share, ``persistence`` for the floor); None without a measured gateway latency step or
    without the fan-out figure the gateway's share needs."""
    step = measured_step(results.get("latency"))
    per_frame = fanout_us_per_frame(results.get("fanout"))
    if step is None or per_frame is None:
        return None
    sent = int(step.get("sent") or 0)
    acked_raw = step.get("acked")
    acked = sent if acked_raw is None else min(sent, int(acked_raw))
    if acked <= 0:
        return None
    used = step.get("systemCpu") or {}
    gateway = float(step.get("serverCpuSeconds") or 0.0)
    frames = float(step.get("deliveredInWindow") or 0)
    share = max(0.0, gateway - frames * per_frame / 1e6)
    parts = {"gateway": share * 1e6 / acked} | {
        name: float(used.get(name, 0.0)) * 1e6 / acked for name in COST_PARTS
    }
    others = {
        name: float(cpu) * 1e6 / acked for name, cpu in used.items() if name not in COST_PARTS
    }
    return ChatCost(
        acked=acked,
        parts=parts,
        not_counted=others,
        floor=store_floor(results.get("persistence")),
        gateway_us_per_frame=per_frame,
        gateway_total_us=gateway * 1e6 / acked,
    )


def step_passed(step: dict[str, Any]) -> bool:
    """A chat capacity step passes: every delivery's p99 <= 100 ms, nothing lost, every send
    made and (where the protocol acks) acked."""
    p99 = field_at(step, "latency", "p99")
    acked = step.get("acked")
    return (
        step.get("lost") == 0
        and not step.get("unsent")
        and p99 is not None
        and p99 <= P99_LIMIT_MS
        and (acked is None or acked >= (step.get("sent") or 0))
    )


def acked_rate(step: dict[str, Any]) -> float | None:
    seconds = step.get("seconds") or 0.0
    count = step.get("acked")
    if count is None:
        count = step.get("sent")
    return float(count) / seconds if seconds and count is not None else None


def capacity_pick(
    steps: list[dict[str, Any]],
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(the last step that passed before the first that did not, that first failing step);
    warm-up steps are skipped."""
    last_good = None
    for step in steps:
        if step.get("warmup"):
            continue
        if not step_passed(step):
            return last_good, step
        last_good = step
    return last_good, None


@dataclass(frozen=True)
class Baseline:
    """The results of the baseline run (today's main), and where they came from."""

    results: dict[str, ScenarioResult]
    directory: Path

    @property
    def commit(self) -> str | None:
        commits = {r.data.get("commit") for r in self.results.values()} - {None}
        return ", ".join(sorted(short_commit(c) for c in commits)) if commits else None

    @property
    def quick(self) -> list[str]:
        """The baseline's scenarios run at smoke sizes (--quick)."""
        return sorted(name for name, r in self.results.items() if r.data.get("quick"))

    @property
    def machine(self) -> dict[str, Any] | None:
        return _machine(self.results)

    def describe(self) -> str:
        machine = self.machine or {}
        return (
            f"baseline commit {self.commit or 'unknown'}"
            f", speed readings {_reading(machine.get(SPEED), 'ms')}"
            f" / {_reading(machine.get(LOOPBACK), 'µs')}"
        )


def short_commit(commit: object) -> str:
    """``0123456789ab`` of a recorded commit, ``+dirty`` kept (services/ or libs/ differed)."""
    if not commit:
        return "commit not recorded"
    text = str(commit)
    return text[:12] + ("+dirty" if text.endswith("+dirty") else "")


def _reading(value: object, unit: str) -> str:
    return f"{value:,.4g} {unit}" if isinstance(value, int | float) else "n/a"


def _machine(results: dict[str, ScenarioResult]) -> dict[str, Any] | None:
    for name in ("latency", "chat_capacity", "persistence", "fanout", *results):
        result = results.get(name)
        machine = result.data.get("machine") if result else None
        if isinstance(machine, dict):
            return machine
    return None


def load_baseline(directory: Path) -> Baseline | None:
    """The baseline's results, or None when ``directory`` holds none."""
    found = load_results(directory) if directory.is_dir() else {}
    return Baseline(found, directory) if found else None


def speed_differences(
    here: dict[str, Any] | None, there: dict[str, Any] | None
) -> dict[str, float]:
    """``{reading: this run's / the baseline's}`` for each speed reading more than
    ``SPEED_TOLERANCE`` apart (empty when they agree, or when either run has none)."""
    out: dict[str, float] = {}
    for key in (SPEED, LOOPBACK):
        a, b = (here or {}).get(key), (there or {}).get(key)
        if not (isinstance(a, int | float) and isinstance(b, int | float)) or b <= 0:
            continue
        if abs(a / b - 1) > SPEED_TOLERANCE:
            out[key] = a / b
    return out


def speed_warning(results: dict[str, ScenarioResult], baseline: Baseline | None) -> str:
    if baseline is None:
        return ""
    differ = speed_differences(_machine(results), baseline.machine)
    if not differ:
        return ""
    listed = ", ".join(f"{key} {factor:.2f}x the baseline's" for key, factor in differ.items())
    return (
        f"this run's speed readings differ from the baseline's by more than "
        f"{SPEED_TOLERANCE:.0%} ({listed}): a ratio to the baseline is then the machines' as "
        "much as the code's; rerun both on the same machine"
    )


def _with_baseline(text: str, baseline: Baseline | None, warning: str) -> str:
    if baseline is None:
        return text
    differ = (
        f"; **speed readings more than {SPEED_TOLERANCE:.0%} apart from this run's**"
        if warning
        else ""
    )
    return f"{text} [{baseline.describe()}{differ}]"


def cost_target(results: dict[str, ScenarioResult], baseline: Baseline | None) -> Target:
    cost = cost_of(results)
    goal = (
        f"whole-system CPU per acked chat message at 2,000 msg/s in rooms of 10 <= "
        f"{COST_LIMIT:g}x the store floor (NATS + PostgreSQL per message in the bulk "
        "persistence run, same run)"
    )
    name = "Durable chat cost"
    if cost is None or cost.ratio is None:
        missing = [
            n
            for n, ok in (
                ("latency (gateway)", measured_step(results.get("latency")) is not None),
                ("fanout (gateway)", fanout_us_per_frame(results.get("fanout")) is not None),
                ("persistence", store_floor(results.get("persistence")) is not None),
            )
            if not ok
        ]
        return Target(
            name,
            goal,
            "n/a",
            None,
            limit="not measured: this run lacks " + (", ".join(missing) or "acked messages"),
        )
    ratio = cost.ratio
    before = cost_of(baseline.results) if baseline else None
    today = (
        f"; today's {before.ratio:.2f}x ({before.total:,.0f} µs)"
        if before is not None and before.ratio is not None
        else "; today's: no baseline results"
        if baseline is None
        else "; today's: the baseline lacks latency, fanout or persistence"
    )
    measured = (
        f"{ratio:.2f}x the floor ({cost.total:,.0f} vs {cost.floor:,.1f} µs per message; "
        f"{cost.parts_text()} µs){today}"
    )
    met = ratio <= COST_LIMIT
    biggest = sorted(cost.parts.items(), key=lambda kv: -kv[1])
    limit = (
        ""
        if met
        else "the parts above the floor, largest first: "
        + ", ".join(f"{n} {us:,.0f} µs ({us / cost.total:.0%})" for n, us in biggest)
    )
    bare = bare_path(results)
    if bare is not None and bare.ratio is not None and not met:
        nats_ratio = bare.parts["nats"] / bare.total * bare.ratio
        limit += (
            f". The same path with bare clients (`path_floor`, no service work; PostgreSQL at"
            f" its bulk floor) costs {bare.total:,.0f} µs, {bare.ratio:.1f}x the floor, NATS"
            f" alone {bare.parts['nats']:,.0f} µs ({nats_ratio:.1f}x"
            " the floor, when the bulk floor's NATS share is one delivery and ack per"
            " message): the target lies below what these hops cost without any of our code"
        )
    warning = speed_warning(results, baseline)
    return Target(name, goal, _with_baseline(measured, baseline, warning), met, limit)


def capacity_of_result(result: ScenarioResult | None) -> dict[str, Any]:
    """The saved ``chat_capacity`` figures of the gateway: capacity (acked msg/s), atLeast,
    failedStep."""
    gateway = field_at(result.data, "systems", "gateway") if result else None
    return gateway if isinstance(gateway, dict) else {}


def capacity_target(results: dict[str, ScenarioResult], baseline: Baseline | None) -> Target:
    # scenarios/ imports this module (chat_capacity): import from it only once both are loaded.
    from switchboard_bench.scenarios.common import limit_of  # noqa: PLC0415

    name = "Durable chat capacity"
    goal = (
        f">= {CAPACITY_FACTOR:g}x today's acked msg/s in rooms of 10 (delivery p99 <= "
        f"{P99_LIMIT_MS:g} ms, nothing lost, every send acked)"
    )
    gw = capacity_of_result(results.get("chat_capacity"))
    if not gw:
        return Target(name, goal, "n/a", None, limit="not measured: no chat_capacity result")
    capacity = gw.get("capacity")
    failed = gw.get("failedStep")
    at_least = "at least " if gw.get("atLeast") else ""
    figure = (
        f"{at_least}{capacity:,.0f} acked msg/s"
        if isinstance(capacity, int | float)
        else "below the lowest step"
    )
    before = capacity_of_result(baseline.results.get("chat_capacity")) if baseline else {}
    base = before.get("capacity")
    limit = "the gateway passed every step: the ladder ends below its capacity"
    if failed:
        limit = f"first failing step {failed.get('offeredRate')} msg/s: " + limit_of(
            "gateway", failed
        )
    warning = speed_warning(results, baseline)
    if not isinstance(base, int | float) or not base:
        if baseline is None:
            why = "no baseline results"
        elif not before:
            why = "the baseline has no chat_capacity result"
        else:
            why = (
                "the baseline passed no step (its ladder stopped because: "
                f"{before.get('stoppedBecause')})"
            )
        return Target(
            name,
            goal,
            _with_baseline(f"{figure}; today's: {why}", baseline, warning),
            None,
            limit=f"no ratio: {why}; {limit}",
        )
    factor = (capacity or 0.0) / base
    measured = f"{factor:.2f}x today's ({figure} vs {base:,.0f})"
    met = factor >= CAPACITY_FACTOR
    return Target(
        name, goal, _with_baseline(measured, baseline, warning), met, "" if met else limit
    )


def issue_targets(results: dict[str, ScenarioResult], baseline: Baseline | None) -> list[Target]:
    """The targets judged across scenarios and against the baseline, in the report's order."""
    return [cost_target(results, baseline), capacity_target(results, baseline)]


def cost_table(
    results: dict[str, ScenarioResult], baseline: Baseline | None
) -> tuple[list[str], list[list[str | int | float | None]]]:
    """Per process µs per acked message, this run and the baseline's."""
    runs = [("this run", cost_of(results))]
    if baseline is not None:
        runs.append(("baseline", cost_of(baseline.results)))
    if results.get("path_floor") is not None:
        runs.append(("bare clients (path_floor)", bare_path(results)))
    names = ["gateway", *COST_PARTS]
    columns = ["run", *(f"{n} µs" for n in names), "total µs", "floor µs", "ratio", "acked"]
    rows: list[list[str | int | float | None]] = []
    for label, cost in runs:
        if cost is None:
            rows.append([label, *([None] * (len(columns) - 1))])
            continue
        rows.append(
            [
                label,
                *(round(cost.parts.get(n, 0.0), 1) for n in names),
                round(cost.total, 1),
                None if cost.floor is None else round(cost.floor, 1),
                None if cost.ratio is None else round(cost.ratio, 2),
                cost.acked,
            ]
        )
    return columns, rows
