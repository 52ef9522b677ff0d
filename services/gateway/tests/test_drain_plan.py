"""The drain's pacing: batches spread over the window, jittered, reconnect delays bounded."""

import random

from hypothesis import given
from hypothesis import strategies as st
from switchboard_gateway.edge.drain_plan import plan_drain


def test_nothing_to_close_is_an_empty_plan() -> None:
    plan = plan_drain(0, 10.0, 5, 1000)
    assert plan.offsets == []
    assert plan.reconnect_ms == []


def test_batches_close_together_one_per_slot() -> None:
    plan = plan_drain(6, 9.0, 2, 1000, rand=lambda low, high: low)
    assert plan.offsets == [0.0, 0.0, 3.0, 3.0, 6.0, 6.0]
    assert plan.reconnect_ms == [0] * 6


@given(
    count=st.integers(1, 500),
    window=st.floats(0.0, 60.0),
    batch=st.integers(1, 100),
    max_ms=st.integers(0, 30_000),
    seed=st.integers(0, 2**32),
)
def test_every_close_is_within_the_window_in_order(
    count: int, window: float, batch: int, max_ms: int, seed: int
) -> None:
    plan = plan_drain(count, window, batch, max_ms, rand=random.Random(seed).uniform)
    assert len(plan.offsets) == len(plan.reconnect_ms) == count
    assert plan.offsets == sorted(plan.offsets)
    assert all(0.0 <= t <= window + 1e-9 for t in plan.offsets)
    assert all(0 <= ms <= max_ms for ms in plan.reconnect_ms)
    assert len(set(plan.offsets)) <= -(-count // batch)
