"""CPU per delivered frame at the fan-out's comparison rate, read from a saved ``fanout`` result.

The ladder reads each system once there, in a 4-second window that moved by ±30 % from run to
run on both the gateway and Node.js (bench/profiles/README-gateway-fanout.md); the comparison
rounds after the ladders read ``COMPARED`` again, in turn. A system's figure is the median of
its readings, each taken only where it lost nothing.
"""

import statistics
from typing import Any

__all__ = ["COMPARED", "PER_FRAME", "comparison_figures", "comparison_pairs", "user_of"]

COMPARED = ("gateway", "node-ws")
"""The systems read again, in turn, at the comparison rate."""
PER_FRAME = (
    "serverCpuMicrosPerDelivery",
    "serverKernelMicrosPerDelivery",
    "systemCpuMicrosPerDelivery",
)
"""A reading's figures, each taken as the median; ``userMicrosPerDelivery`` (the first less
the second, reading by reading) beside them."""


def comparison_pairs(data: dict[str, Any]) -> list[dict[str, dict[str, Any]]]:
    """Every reading of the compared systems at the comparison rate in a saved ``fanout``
    result (its ``data``): the ladders' step first, then each comparison round; a system's
    entry only where it lost nothing at that step."""
    rate = data.get("efficiencyRate") or 60
    ladder: dict[str, dict[str, Any]] = {}
    for name in COMPARED:
        steps = (data.get("systems", {}).get(name) or {}).get("steps") or []
        step = next((s for s in steps if s.get("offeredRate") == rate), None)
        if step is not None:
            ladder[name] = step
    pairs = [ladder, *(data.get("comparisonRounds") or [])]
    return [{k: v for k, v in pair.items() if v.get("lost") == 0} for pair in pairs]


def comparison_figures(data: dict[str, Any], system: str) -> dict[str, Any] | None:
    """``system``'s µs per frame at the comparison rate, each of ``PER_FRAME`` and
    ``userMicrosPerDelivery`` the median over the readings that have it (``readings``: how many
    have the first); None when no reading has it."""
    steps = [pair[system] for pair in comparison_pairs(data) if system in pair]
    figures: dict[str, Any] = {}
    for key in PER_FRAME:
        values = [float(s[key]) for s in steps if isinstance(s.get(key), int | float)]
        figures[key] = statistics.median(values) if values else None
    user = [u for u in map(user_of, steps) if u is not None]
    figures["userMicrosPerDelivery"] = statistics.median(user) if user else None
    figures["readings"] = sum(isinstance(s.get(PER_FRAME[0]), int | float) for s in steps)
    return figures if figures["readings"] else None


def user_of(step: dict[str, Any] | None) -> float | None:
    """A reading's CPU per frame in user space: the server's less its kernel part."""
    total, kernel = (step or {}).get(PER_FRAME[0]), (step or {}).get(PER_FRAME[1])
    if not isinstance(total, int | float) or not isinstance(kernel, int | float):
        return None
    return float(total) - float(kernel)
