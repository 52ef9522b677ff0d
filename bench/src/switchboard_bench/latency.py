"""Latency summaries: percentiles of arrival delays, with what never arrived counted apart."""

import math
from dataclasses import dataclass

__all__ = ["LatencySummary", "percentile", "summarise"]


@dataclass(frozen=True)
class LatencySummary:
    received: int
    missing: int
    p50_ms: float
    p99_ms: float
    max_ms: float


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of values sorted ascending (``fraction`` in [0, 1])."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summarise(sent_at_ms: float, arrivals_ms: list[float | None]) -> LatencySummary:
    """Delays from ``sent_at_ms`` to each arrival (epoch ms); None is one that never came."""
    delays = sorted(max(0.0, at - sent_at_ms) for at in arrivals_ms if at is not None)
    return LatencySummary(
        received=len(delays),
        missing=len(arrivals_ms) - len(delays),
        p50_ms=percentile(delays, 0.50),
        p99_ms=percentile(delays, 0.99),
        max_ms=delays[-1] if delays else math.nan,
    )
