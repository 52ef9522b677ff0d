"""``observe_many``: n observations at once are the same samples as n calls of ``observe``;
``TurnCounter``: what a loop turn counted, added once at its end."""

import asyncio

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram
from switchboard_gateway.metrics import TurnCounter, observe_many


def samples(histogram: Histogram) -> dict[tuple[str, str], float]:
    return {
        (sample.name, sample.labels.get("le", "")): sample.value
        for metric in histogram.collect()
        for sample in metric.samples
        if not sample.name.endswith("_created")
    }


@pytest.mark.parametrize("amount", [0.0, 0.004, 0.1, 2.5, 1e9])
def test_observing_many_at_once_equals_observing_one_by_one(amount: float) -> None:
    registry = CollectorRegistry()
    buckets = (0.005, 0.1, 1.0)
    at_once = Histogram("at_once", "", ["transport"], buckets=buckets, registry=registry)
    one_by_one = Histogram("one_by_one", "", ["transport"], buckets=buckets, registry=registry)
    observe_many(at_once.labels("websocket"), amount, 7)
    for _ in range(7):
        one_by_one.labels("websocket").observe(amount)
    renamed = {
        (name.replace("at_once", "one_by_one"), le): value
        for (name, le), value in samples(at_once).items()
    }
    assert renamed == pytest.approx(samples(one_by_one))  # the sum: one product, not n adds
    assert samples(one_by_one)[("one_by_one_count", "")] == 7


async def test_a_turn_counter_adds_what_one_loop_turn_counted_at_its_end() -> None:
    registry = CollectorRegistry()
    child = Counter("turns", "test", registry=registry)
    counter = TurnCounter(child)
    for _ in range(1000):
        counter.add()
    assert registry.get_sample_value("turns_total") == 0  # not yet: once, at the turn's end
    await asyncio.sleep(0)
    assert registry.get_sample_value("turns_total") == 1000
    counter.add()
    await asyncio.sleep(0)
    assert registry.get_sample_value("turns_total") == 1001
