"""``observe_many``: n observations at once are the same samples as n calls of ``observe``."""

import pytest
from prometheus_client import CollectorRegistry, Histogram
from switchboard_gateway.metrics import observe_many


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
