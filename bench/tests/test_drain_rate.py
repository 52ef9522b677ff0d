"""The drain rate counts from just before the first progress seen to the end, not from
start-up."""

import pytest
from switchboard_bench.drain import DrainSample, drain_rate


def test_start_up_before_the_first_progress_does_not_count() -> None:
    samples = [
        DrainSample(0.0, 0),
        DrainSample(5.0, 0),
        DrainSample(6.0, 100),
        DrainSample(8.0, 500),
    ]
    assert drain_rate(samples, 500) == pytest.approx(500 / 3)


def test_a_drain_seen_whole_in_one_sample_still_has_a_rate() -> None:
    assert drain_rate([DrainSample(1.0, 0), DrainSample(1.1, 2000)], 2000) == pytest.approx(20_000)


def test_samples_after_the_total_was_reached_are_ignored() -> None:
    samples = [DrainSample(1.0, 10), DrainSample(2.0, 110), DrainSample(9.0, 110)]
    assert drain_rate(samples, 110) == 100.0


def test_no_progress_is_no_rate() -> None:
    assert drain_rate([DrainSample(0.0, 0), DrainSample(1.0, 0)], 10) == 0.0
    assert drain_rate([], 10) == 0.0
