"""Issue 19, performance: its targets judged from one run's saved ``sse_fanout`` and ``fanout``
results (``make bench`` writes them together), so that the report can set them side by side.

- **SSE broadcast**: 10,000 SSE streams on one gateway, every stream receives the measured
  broadcast, p99 <= 250 ms (``sse_fanout``'s second broadcast).
- **Broadcast write cost by audience**: the CPU of notification, NATS, persistence and
  PostgreSQL from a broadcast's request until what it stores is stored, to everyone (the
  measured broadcast) against to a team of 10 (``sse_fanout``'s team broadcasts, their
  median): the same, i.e. one stored message per audience, not one per user. A broadcast is
  one ``NOTIFY`` entry for its audience (``entries`` 1, ``recipients`` the users it reaches);
  results saved before that have one entry per recipient and no ``recipients``, and their
  texts say so.
- **SSE cost per event**: the gateway's CPU per SSE event in the measured broadcast against its
  CPU per delivered WebSocket frame in ``fanout`` at the comparison step.
- **Frame cost in user space**: at ``fanout``'s comparison step, the server's CPU per frame
  less its kernel time, gateway against the Node.js reference; and the fan-out capacity against
  Node.js's.

The idle memory target of issue 19 is ``idle_memory``'s own (``IDLE_MEMORY``).
"""

import statistics
from dataclasses import dataclass
from typing import Any

from switchboard_bench.fanout_readings import comparison_figures, comparison_pairs, user_of
from switchboard_bench.results import ScenarioResult, Target, field_at
from switchboard_bench.scenarios.common import deliveries, limit_of
from switchboard_bench.scenarios.fanout import capacity_of
from switchboard_bench.scenarios.sse_fanout import MEASURED

__all__ = [
    "CAPACITY_FACTOR",
    "FRAME_USER_LIMIT",
    "IDLE_MEMORY",
    "SSE_COST_LIMIT",
    "SSE_P99_LIMIT_MS",
    "SSE_STREAMS",
    "WRITE_RATIO_LIMIT",
    "Audience",
    "audiences",
    "capacity_target",
    "delivery_targets",
    "frame_cost_target",
    "has_figures",
    "sse_broadcast_target",
    "sse_cost_target",
    "stored_once",
    "write_cost_target",
    "write_table",
]

SSE_STREAMS = 10_000
SSE_P99_LIMIT_MS = 250.0
WRITE_RATIO_LIMIT = 1.5
"""A broadcast's write side to everyone at most this many times the one to a team of 10."""
SSE_COST_LIMIT = 1.5
"""Gateway CPU per SSE event at most this many times its CPU per delivered WebSocket frame."""
FRAME_USER_LIMIT = 1.0
"""Gateway user-space CPU per frame at most this many times Node.js's."""
CAPACITY_FACTOR = 1.5
"""Fan-out capacity at least this many times Node.js's."""
IDLE_MEMORY = "Memory per idle connection (issue 19)"
"""``idle_memory``'s target for issue 19, listed in this issue's section too."""


def has_figures(results: dict[str, ScenarioResult]) -> bool:
    return "sse_fanout" in results or "fanout" in results


def _measured(results: dict[str, ScenarioResult]) -> dict[str, Any] | None:
    sse = results.get("sse_fanout")
    found = field_at(sse.data, "broadcasts", MEASURED) if sse else None
    return found if isinstance(found, dict) else None


def _frame_figures(results: dict[str, ScenarioResult], system: str) -> dict[str, Any] | None:
    """``system``'s CPU per frame at ``fanout``'s comparison rate (``comparison_figures``: the
    median over the ladder's step and the comparison rounds), when it lost nothing there."""
    fanout = results.get("fanout")
    return None if fanout is None else comparison_figures(fanout.data, system)


def stored_once(entries: int, recipients: int) -> bool:
    """Whether a broadcast stored fewer entries than it has recipients: once for its audience
    (a result saved before that stored one entry per recipient)."""
    return 0 < entries < recipients


def _shape(measured: dict[str, Any]) -> tuple[int, int]:
    """The measured broadcast's entries stored and recipients (its entries, in results saved
    before ``recipients`` was)."""
    entries = int(measured.get("entries") or field_at(measured, "write", "entries") or 0)
    recipients = measured.get("recipients") or field_at(measured, "write", "recipients")
    return entries, int(recipients or entries)


def _per_frame(step: dict[str, Any] | None, key: str) -> float | None:
    value = step.get(key) if step else None
    return float(value) if isinstance(value, int | float) else None


def sse_broadcast_target(results: dict[str, ScenarioResult]) -> Target:
    name = "SSE broadcast (issue 19)"
    goal = (
        f"{SSE_STREAMS:,} SSE streams on one gateway, all receive a broadcast, p99 <= "
        f"{SSE_P99_LIMIT_MS:g} ms"
    )
    measured = _measured(results)
    if measured is None:
        return Target(name, goal, "n/a", None, limit="not measured: no sse_fanout result")
    streams = int(field_at(results["sse_fanout"].data, "streams") or 0)
    received, p99 = int(measured.get("received") or 0), float(measured.get("p99_ms") or 0.0)
    text = (
        f"p99 {p99:,.0f} ms, {received:,}/{streams:,} received (p50 "
        f"{float(measured.get('p50_ms') or 0.0):,.0f} ms)"
    )
    if streams < SSE_STREAMS:
        return Target(name, goal, text, None, limit=f"not measured: only {streams:,} streams")
    all_received = received >= streams and not measured.get("missing")
    met = all_received and p99 <= SSE_P99_LIMIT_MS
    stored = float(measured.get("last_entry_stored_ms") or 0.0)
    gateway_us, _ = _sse_event_cost(results["sse_fanout"], measured, max(1, received))
    entries, recipients = _shape(measured)
    delivery = (
        f"then the gateway's SSE delivery: p99 {p99 - stored:,.0f} ms after that,"
        f" {gateway_us:,.0f} µs of gateway CPU per event"
    )
    limit = (
        ""
        if met
        else f"{streams - received:,} of {streams:,} streams missed it"
        if not all_received
        else f"storing the broadcast, once for its audience: {_entries(entries)} for"
        f" {recipients:,} recipients, stored {stored:,.0f} ms after the request; {delivery}"
        if stored_once(entries, recipients)
        else f"notification's fan-out on write: all {entries:,} inbox entries stored"
        f" {stored:,.0f} ms after the request; {delivery}"
    )
    return Target(name, goal, text, met, limit)


def _entries(count: int) -> str:
    return "1 NOTIFY entry" if count == 1 else f"{count:,} NOTIFY entries"


@dataclass(frozen=True)
class Audience:
    """A broadcast's write side to one audience: CPU per broadcast (the median of its rounds)."""

    label: str
    recipients: int
    entries: int
    """``NOTIFY`` entries stored per broadcast: 1 (once for the audience), or, in results saved
    before broadcasts were stored once, one per recipient."""
    rounds: list[dict[str, Any]]
    """As ``sse_fanout`` saves them: ``cpu_seconds`` per process, ``stored_ms``, ``complete``."""

    @property
    def stored_once(self) -> bool:
        return stored_once(self.entries, self.recipients)

    @property
    def complete(self) -> bool:
        return bool(self.rounds) and all(r.get("complete") for r in self.rounds)

    def cpu_ms(self, process: str | None = None) -> float:
        """Milliseconds of CPU per broadcast, of ``process`` or of all of them."""
        return 1000 * statistics.median(
            sum(float(v) for k, v in (r.get("cpu_seconds") or {}).items() if process in (None, k))
            for r in self.rounds
        )

    def stored_ms(self) -> float:
        return statistics.median(float(r.get("stored_ms") or 0.0) for r in self.rounds)

    def window_ms(self) -> float:
        """How long the CPU was counted (runs before windows were held: until stored)."""
        return statistics.median(
            float(r.get("window_ms") or r.get("stored_ms") or 0.0) for r in self.rounds
        )

    def per_recipient_us(self) -> float:
        return self.cpu_ms() * 1000 / max(1, self.recipients)


def audiences(results: dict[str, ScenarioResult]) -> list[Audience]:
    """Everyone (the measured broadcast) and the team, where ``sse_fanout`` measured them."""
    measured = _measured(results)
    write = measured.get("write") if measured else None
    sse = results.get("sse_fanout")
    team = field_at(sse.data, "team_broadcasts") if sse else None
    found = []
    if isinstance(write, dict):
        entries = int(write.get("entries") or 0)
        recipients = int(write.get("recipients") or write.get("entries") or 0)
        found.append(Audience("everyone", recipients, entries, [write]))
    if isinstance(team, dict):
        label = f"team `{team.get('team')}`"
        rounds = team.get("rounds") or []
        recipients = int(team.get("recipients") or 0)
        entries = int(rounds[0].get("entries") or recipients) if rounds else recipients
        found.append(Audience(label, recipients, entries, rounds))
    return found


def write_cost_target(results: dict[str, ScenarioResult]) -> Target:
    name = "Broadcast write cost by audience (issue 19)"
    goal = (
        "CPU of notification + NATS + persistence + PostgreSQL from a broadcast's request until "
        f"every entry is stored, to everyone (10,000 users) <= {WRITE_RATIO_LIMIT:g}x that to a "
        "team of 10: the same for 10 users or 1,000,000 (one stored message per audience). "
        "The team's CPU is counted over a window as long as everyone's (everyone's is longer: "
        "its delivery shares the core), so that background work weighs alike. "
        f"{WRITE_RATIO_LIMIT:g}x, not 1x: a team's broadcast uses a few ms, in which the "
        "processes' own background work weighs; a cost per recipient shows as ~1,000x"
    )
    found = audiences(results)
    if len(found) < 2:  # everyone and the team
        return Target(
            name, goal, "n/a", None, limit="not measured: sse_fanout has no write-side figures"
        )
    everyone, team = found
    for audience in found:
        if not audience.complete:
            return Target(
                name,
                goal,
                "n/a",
                None,
                limit=f"not measured: the broadcast to {audience.label} did not store all its "
                "entries",
            )
    if team.cpu_ms() <= 0:
        return Target(name, goal, "n/a", None, limit="not measured: no CPU read for the team")
    factor = everyone.cpu_ms() / team.cpu_ms()
    measured = (
        f"{factor:,.1f}x: {everyone.cpu_ms():,.1f} ms of CPU per broadcast to "
        f"{everyone.recipients:,} users ({everyone.per_recipient_us():,.1f} µs per recipient) vs "
        f"{team.cpu_ms():,.2f} ms to {team.recipients:,} ({team.per_recipient_us():,.1f} µs per "
        f"recipient; median of {len(team.rounds)})"
    )
    met = factor <= WRITE_RATIO_LIMIT
    limit = "" if met else _write_limit(everyone, team)
    return Target(name, goal, measured, met, limit)


def _write_limit(everyone: Audience, team: Audience) -> str:
    """Why the broadcast to everyone cost more than the team's: one entry per recipient (results
    saved before broadcasts were stored once), or, stored once, the processes whose CPU grew."""
    processes = sorted(everyone.rounds[0].get("cpu_seconds") or {})
    if not everyone.stored_once:
        parts = ", ".join(
            f"{process} {everyone.cpu_ms(process) * 1000 / max(1, everyone.recipients):,.1f} µs"
            for process in processes
        )
        return (
            f"fan-out on write: one inbox entry per recipient ({everyone.recipients:,} NOTIFY "
            f"messages and PostgreSQL rows per broadcast to everyone); per recipient: {parts}"
        )
    grown = sorted(
        ((p, everyone.cpu_ms(p), team.cpu_ms(p)) for p in processes),
        key=lambda item: item[2] - item[1],
    )
    return (
        f"not the entries: stored once per audience, {_entries(everyone.entries)} per broadcast "
        f"to everyone ({everyone.recipients:,} recipients) as to the team "
        f"({team.recipients:,}); the difference is the processes' CPU in a window of "
        f"{everyone.window_ms():,.0f} ms (stored in {everyone.stored_ms():,.0f}) against the "
        f"team's {team.window_ms():,.0f} ms (stored in {team.stored_ms():,.0f}; work in a window "
        "that is not the broadcast's own counts too), by process: "
        + ", ".join(f"{p} {e:,.2f} vs {t:,.2f} ms" for p, e, t in grown)
    )


def sse_cost_target(results: dict[str, ScenarioResult]) -> Target:
    name = "SSE cost per event (issue 19)"
    goal = (
        f"gateway CPU per SSE event (sse_fanout's measured broadcast) <= {SSE_COST_LIMIT:g}x its "
        "CPU per delivered WebSocket frame (fanout, at its comparison step), same run"
    )
    measured = _measured(results)
    gw_frame = _frame_figures(results, "gateway")
    frame = _per_frame(gw_frame, "serverCpuMicrosPerDelivery")
    received = int(measured.get("received") or 0) if measured else 0
    if measured is None or frame is None or not received or frame <= 0:
        missing = [
            n
            for n, ok in (("sse_fanout", received > 0), ("fanout (gateway)", bool(frame)))
            if not ok
        ]
        return Target(name, goal, "n/a", None, limit="not measured: no " + ", ".join(missing))
    event, kernel = _sse_event_cost(results["sse_fanout"], measured, received)
    factor = event / frame
    met = factor <= SSE_COST_LIMIT
    text = f"{factor:.2f}x ({event:,.1f} µs per SSE event vs {frame:.2f} µs per frame)"
    frame_kernel = _per_frame(gw_frame, "serverKernelMicrosPerDelivery")
    if kernel is not None and frame_kernel is not None:
        text += f"; kernel {kernel:,.1f} vs {frame_kernel:.2f} µs of them"
    limit = (
        ""
        if met
        else "each SSE event is written for one stream: the broadcast reaches the gateway once "
        "(one NATS message on `notify.live.audience.all`, decoded and encoded once), but each "
        "member's event carries their own id, spliced in per stream, and is a write of its own, "
        "where a room message's frame is the same bytes for its 1,000 receivers"
        if stored_once(*_shape(measured))
        else "each SSE event is a NATS message of its own on the user's `notify.live.<user>` "
        "(the republish of that user's inbox entry), decoded and encoded for one stream, where a "
        "room message's NATS message, decoding and frame are shared by its 1,000 receivers"
    )
    return Target(name, goal, text, met, limit)


def _sse_event_cost(
    sse: ScenarioResult, measured: dict[str, Any], received: int
) -> tuple[float, float | None]:
    """The gateway's CPU per SSE event and its kernel part: the median over the measured
    broadcasts where the run saved it, else the measured broadcast's (older results)."""
    median = sse.data.get("gateway_us_per_event")
    if isinstance(median, int | float):
        kernel = sse.data.get("gateway_kernel_us_per_event")
        return float(median), float(kernel) if isinstance(kernel, int | float) else None
    return float(field_at(measured, "cpu_seconds", "gateway") or 0.0) * 1e6 / received, None


def frame_cost_target(results: dict[str, ScenarioResult]) -> Target:
    name = "Frame cost in user space (issue 19)"
    goal = (
        "gateway user-space CPU per delivered frame (server µs/frame less its kernel time, at "
        "fanout's comparison rate: the median over its readings) <= the Node.js reference's, "
        "same run"
    )
    gw_step, node_step = (_frame_figures(results, s) for s in ("gateway", "node-ws"))
    gateway = _per_frame(gw_step, "userMicrosPerDelivery")
    node = _per_frame(node_step, "userMicrosPerDelivery")
    gw_kernel = _per_frame(gw_step, "serverKernelMicrosPerDelivery")
    node_kernel = _per_frame(node_step, "serverKernelMicrosPerDelivery")
    if gateway is None or node is None or gw_kernel is None or node_kernel is None or node <= 0:
        missing = [n for n, v in (("gateway", gateway), ("node-ws", node)) if v is None]
        return Target(
            name,
            goal,
            "n/a",
            None,
            limit="not measured: fanout lacks the comparison step of "
            + ", ".join(missing or ["?"]),
        )
    factor = gateway / node
    text = (
        f"{factor:.2f}x Node.js's ({gateway:.2f} vs {node:.2f} µs user space; kernel "
        f"{gw_kernel:.2f} vs {node_kernel:.2f} µs beside it)"
    )
    each = _reading_ratios(results)
    if len(each) > 1:
        text += f"; {len(each)} readings, each gateway ÷ Node.js: " + ", ".join(
            f"{r:.2f}x" for r in each
        )
    met = factor <= FRAME_USER_LIMIT
    limit = (
        ""
        if met
        else f"the gateway's own work per frame, {gateway - node:.2f} µs more than Node.js's "
        "(where it goes: the py-spy flame graph in bench/profiles/, from "
        "`switchboard-bench --profile`)"
    )
    return Target(name, goal, text, met, limit)


def _reading_ratios(results: dict[str, ScenarioResult]) -> list[float]:
    """Gateway ÷ Node.js user space per frame, reading by reading (the ladders' step, then each
    comparison round), where both lost nothing."""
    fanout = results.get("fanout")
    ratios = []
    for pair in comparison_pairs(fanout.data) if fanout else []:
        users = [user_of(pair.get(n)) for n in ("gateway", "node-ws")]
        if users[0] is not None and users[1]:
            ratios.append(users[0] / users[1])
    return ratios


def capacity_target(results: dict[str, ScenarioResult]) -> Target:
    name = "Fan-out capacity (issue 19)"
    goal = (
        f">= {CAPACITY_FACTOR:g}x the Node.js reference's deliveries/s (p99 <= 100 ms, nothing "
        "lost), same run"
    )
    fanout = results.get("fanout")
    systems = field_at(fanout.data, "systems") if fanout else None
    if not isinstance(systems, dict) or "gateway" not in systems or "node-ws" not in systems:
        return Target(
            name, goal, "n/a", None, limit="not measured: fanout lacks the gateway or node-ws"
        )
    gw_good, gw_bad = capacity_of(systems["gateway"].get("steps") or [])
    _, node_bad = capacity_of(systems["node-ws"].get("steps") or [])
    gw, node = systems["gateway"].get("capacity"), systems["node-ws"].get("capacity")
    if not node:
        return Target(name, goal, "n/a", None, limit="not measured: Node.js passed no step")
    factor = (gw or 0.0) / node
    text = (
        f"{'at least ' if gw_good and gw_bad is None else ''}{factor:.2f}x Node.js's "
        f"({deliveries(gw)} vs {deliveries(node)})"
    )
    met: bool | None = factor >= CAPACITY_FACTOR
    limit = "" if met else limit_of("gateway", gw_bad)
    if met and node_bad is None:
        met, limit = None, "not measured: Node.js passed every step, its capacity is above them"
    elif not met and gw_good and gw_bad is None:
        met, limit = None, "not measured: the gateway passed every step, the ladder ends below it"
    return Target(name, goal, text, met, limit)


def delivery_targets(results: dict[str, ScenarioResult]) -> list[Target]:
    """Issue 19's targets judged across scenarios, in the report's order."""
    return [
        sse_broadcast_target(results),
        write_cost_target(results),
        sse_cost_target(results),
        frame_cost_target(results),
        capacity_target(results),
    ]


def write_table(
    results: dict[str, ScenarioResult],
) -> tuple[list[str], list[list[str | int | float | None]]]:
    """A broadcast's write side per audience: CPU per broadcast, per recipient, per process."""
    found = audiences(results)
    processes = sorted({p for a in found for r in a.rounds for p in r.get("cpu_seconds") or {}})
    columns = [
        "audience",
        "recipients",
        "entries per broadcast",
        "broadcasts",
        "CPU ms per broadcast",
        "µs per recipient",
        *(f"{p} ms" for p in processes),
        "stored ms",
    ]
    rows: list[list[str | int | float | None]] = [
        [
            a.label,
            a.recipients,
            a.entries,
            len(a.rounds),
            round(a.cpu_ms(), 2),
            round(a.per_recipient_us(), 1),
            *(round(a.cpu_ms(p), 2) for p in processes),
            round(a.stored_ms()) if a.complete else None,
        ]
        for a in found
        if a.rounds
    ]
    return columns, rows
