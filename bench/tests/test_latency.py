"""Arrival delays: nearest-rank percentiles, and what never arrived counted apart."""

import math

from switchboard_bench.latency import percentile, summarise


def test_nearest_rank_percentiles() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 1.0) == 100.0
    assert math.isnan(percentile([], 0.5))


def test_missing_arrivals_are_counted_not_timed() -> None:
    summary = summarise(1000.0, [1010.0, None, 1200.0, 1005.0])
    assert (summary.received, summary.missing) == (3, 1)
    assert summary.p50_ms == 10.0
    assert summary.max_ms == 200.0


def test_nothing_arrived() -> None:
    summary = summarise(0.0, [None, None])
    assert (summary.received, summary.missing) == (0, 2)
    assert math.isnan(summary.p99_ms)
