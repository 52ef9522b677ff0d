"""The maths the report relies on: percentiles from the load generator's histograms, ratios."""

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "Histogram",
    "format_ratio",
    "histogram_from",
    "merge",
    "percentile",
    "ratio",
]

Histogram = dict[int, float]
"""Bucket index -> count; bucket i holds latencies in (base * r**i, base * r**(i+1)] ms."""

BASE_MS = 0.01
RATIO = 1.02


def histogram_from(raw: Mapping[str, Any]) -> Histogram:
    """The load generator's sparse form ``{"baseMs", "ratio", "counts": [[i, n], ...]}``."""
    if raw.get("baseMs", BASE_MS) != BASE_MS or raw.get("ratio", RATIO) != RATIO:
        raise ValueError("histogram buckets differ from the ones this module reads")
    return {int(i): float(n) for i, n in raw.get("counts", [])}


def merge(histograms: Iterable[Histogram]) -> Histogram:
    out: Histogram = {}
    for h in histograms:
        for i, n in h.items():
            out[i] = out.get(i, 0.0) + n
    return out


def bucket_upper(i: int) -> float:
    return BASE_MS * RATIO ** (i + 1)


def percentile(h: Histogram, q: float) -> float | None:
    """The q-quantile (0 < q <= 1) as its bucket's upper bound (at most 2 % above the truth);
    ``None`` for an empty histogram. Nearest-rank: the smallest bucket holding ceil(q * n)."""
    if not 0 < q <= 1:
        raise ValueError(f"q must be in (0, 1], not {q}")
    total = sum(h.values())
    if total <= 0:
        return None
    rank = math.ceil(q * total)
    seen = 0.0
    for i in sorted(h):
        seen += h[i]
        if seen >= rank:
            return bucket_upper(i)
    return bucket_upper(max(h))


def cdf(h: Histogram) -> tuple[list[float], list[float]]:
    """Latency (ms) against the fraction of samples at or under it, for plotting."""
    total = sum(h.values())
    xs: list[float] = []
    ys: list[float] = []
    seen = 0.0
    for i in sorted(h):
        seen += h[i]
        xs.append(bucket_upper(i))
        ys.append(seen / total)
    return xs, ys


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, or None when either is missing or the denominator is zero."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def format_ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def format_number(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}"


def best(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None
