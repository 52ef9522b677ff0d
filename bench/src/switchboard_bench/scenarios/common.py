"""What the scenarios share: the systems they compare, how they read a step, what limits it."""

from typing import Any

from switchboard_bench.stats import format_number

__all__ = [
    "CONTENDED",
    "LOADGEN_BUSY",
    "SATURATED",
    "limit_of",
    "loadgen_notes",
    "slim_step",
]

SATURATED = 0.9
"""A core busier than this over a step is taken as the limit."""
CONTENDED = 0.1
"""A server that waited for its core this share of a step was not measured on a quiet core."""
LOADGEN_BUSY = 0.85
"""A load generator busier than this is flagged in the notes: its figures may be its own limit."""


def limit_of(system: str, step: dict[str, Any] | None) -> str:
    """What limited ``system`` at ``step`` (the first failing one), from the CPU measured there."""
    if step is None:
        return f"{system}: not measured"
    server = step.get("serverCpuFraction")
    rest = step.get("restCpuFraction") or 0.0
    loadgen = step.get("loadgenCpuFraction") or 0.0
    parts = []
    if server is not None and server >= SATURATED:
        parts.append(f"{system}'s core saturated ({server:.0%} CPU)")
    if loadgen + rest >= SATURATED:
        parts.append(
            f"the second core full: load generator {loadgen:.0%}"
            + (f" + rest of the system {rest:.0%}{_breakdown(step)}" if rest else "")
        )
    acked, sent = step.get("acked"), step.get("sent") or 0
    if acked is not None and acked < sent:
        parts.append(
            f"only {acked:,} of {sent:,} sends acked by the end of the step's drain: the write "
            "path (gateway -> chat -> JetStream, with persistence behind it) fell behind"
        )
    wait = step.get("serverWaitFraction") or 0.0
    if wait >= CONTENDED:
        parts.append(
            f"{system}'s event loop was runnable but waiting for its core for {wait:.0%} of the "
            "step: other processes ran there (a machine that was not quiet)"
        )
    if not parts:
        parts.append(
            f"neither core saturated ({system} {_pct(server)}, load generator {loadgen:.0%}"
            + (f", rest {rest:.0%}" if rest else "")
            + "): latency or loss from queueing"
        )
    return "; ".join(parts)


def _breakdown(step: dict[str, Any]) -> str:
    """`` (chat 34%, persistence 22%, ...)``: each component's share of the step, busiest first."""
    seconds = step.get("seconds") or 0.0
    used = step.get("systemCpu") or {}
    if not seconds or not used:
        return ""
    shares = sorted(((name, cpu / seconds) for name, cpu in used.items()), key=lambda x: -x[1])
    return " (" + ", ".join(f"{name} {share:.0%}" for name, share in shares if share >= 0.005) + ")"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def loadgen_notes(per_system: dict[str, dict[str, Any]]) -> list[str]:
    """One note per system: the load generator's busiest step and its CPU per received frame,
    flagged when it (with the rest of the system on its core) neared its core."""
    notes = []
    for system, result in per_system.items():
        steps = result.get("steps", [])
        busiest = max(steps, key=lambda s: s.get("loadgenCpuFraction") or 0.0, default=None)
        fraction = (busiest or {}).get("loadgenCpuFraction") or 0.0
        rest = max((s.get("restCpuFraction") or 0.0 for s in steps), default=0.0)
        flag = (
            " **(near its core: figures may be the load generator's limit)**"
            if fraction + rest >= LOADGEN_BUSY
            else ""
        )
        shared = (
            f" (sharing its core with the rest of the system: up to {rest:.0%})" if rest else ""
        )
        frames = (busiest or {}).get("deliveredInWindow") or 0
        cpu = (busiest or {}).get("loadgenCpuSeconds")
        per_frame = (
            f", {cpu * 1e6 / frames:.1f} µs per received frame there" if cpu and frames else ""
        )
        notes.append(
            f"Load generator CPU against {system}: at most {fraction:.0%} of its core"
            f"{per_frame}{shared}{flag}."
        )
    return notes


def slim_step(step: dict[str, Any], *, keep_histogram: bool = False) -> dict[str, Any]:
    """A step as the results JSON keeps it: no histograms unless asked."""
    out = {k: v for k, v in step.items() if k not in ("histogram", "ownHistogram")}
    if keep_histogram:
        out["histogram"] = step.get("histogram")
        out["ownHistogram"] = step.get("ownHistogram")
    return out


def deliveries(value: float | None) -> str:
    return format_number(value) + "/s" if value is not None else "n/a"
