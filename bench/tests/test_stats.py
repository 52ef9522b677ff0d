"""Percentiles from the load generator's histograms, and the ratios the targets are judged by."""

import math

import pytest
from switchboard_bench.stats import (
    bucket_upper,
    cdf,
    format_ratio,
    histogram_from,
    merge,
    percentile,
    ratio,
)


def bucket_of(ms: float) -> int:
    return math.floor(math.log(ms / 0.01) / math.log(1.02))


def test_a_percentile_is_the_upper_bound_of_the_bucket_holding_its_rank() -> None:
    # 100 samples: 98 at 1 ms, one at 10 ms, one at 100 ms.
    h = {bucket_of(1.0): 98.0, bucket_of(10.0): 1.0, bucket_of(100.0): 1.0}
    assert percentile(h, 0.5) == pytest.approx(bucket_upper(bucket_of(1.0)))
    assert percentile(h, 0.98) == pytest.approx(bucket_upper(bucket_of(1.0)))
    assert percentile(h, 0.99) == pytest.approx(bucket_upper(bucket_of(10.0)))
    assert percentile(h, 1.0) == pytest.approx(bucket_upper(bucket_of(100.0)))


def test_a_percentile_overstates_by_at_most_one_bucket() -> None:
    for ms in (0.05, 1.0, 7.3, 99.9, 2500.0):
        p = percentile({bucket_of(ms): 1.0}, 0.99)
        assert p is not None
        assert ms <= p <= ms * 1.02 * 1.0001


def test_an_empty_histogram_has_no_percentile_and_q_must_be_a_fraction() -> None:
    assert percentile({}, 0.99) is None
    with pytest.raises(ValueError, match="q must be"):
        percentile({1: 1.0}, 0)
    with pytest.raises(ValueError, match="q must be"):
        percentile({1: 1.0}, 1.5)


def test_histograms_read_from_the_load_generator_merge_by_bucket() -> None:
    a = histogram_from({"baseMs": 0.01, "ratio": 1.02, "counts": [[3, 2], [10, 1]]})
    b = histogram_from({"baseMs": 0.01, "ratio": 1.02, "counts": [[10, 4]]})
    assert merge([a, b]) == {3: 2.0, 10: 5.0}
    with pytest.raises(ValueError, match="buckets differ"):
        histogram_from({"baseMs": 0.1, "ratio": 1.02, "counts": []})


def test_the_cdf_rises_to_one() -> None:
    xs, ys = cdf({5: 1.0, 2: 3.0})
    assert xs == sorted(xs)
    assert ys == [0.75, 1.0]


def test_ratios_are_missing_rather_than_infinite() -> None:
    assert ratio(150_000, 120_000) == pytest.approx(1.25)
    assert ratio(None, 3) is None
    assert ratio(3, None) is None
    assert ratio(3, 0) is None
    assert format_ratio(1.254) == "1.25x"
    assert format_ratio(None) == "n/a"
