"""The capacity plan follows from the measured figures, and says what is not measured."""

from pathlib import Path

import pytest
from switchboard_bench.results import ScenarioResult, field_at
from switchboard_bench.scaling import BEGIN, END, Measured, measured_from, plan, render, rewrite


def result(name: str, data: dict[str, object]) -> ScenarioResult:
    return ScenarioResult(scenario=name, title=name, method="", columns=[], rows=[], data=data)


RESULTS = {
    "idle_memory": result(
        "idle_memory",
        {"systems": {"gateway": {"bytesPerConnection": 50_000, "memory": {"rssBefore": 2**27}}}},
    ),
    "fanout": result("fanout", {"systems": {"gateway": {"capacity": 100_000}}}),
    "persistence": result(
        "persistence",
        {
            "messages_per_second": 20_000,
            "cpu_us_per_message": {"persistence": 40.0, "postgres": 20.0, "nats": 5.0},
            "nats_us_per_publish": 15.0,
        },
    ),
    "cluster": result(
        "cluster",
        {
            "runs": [
                {"nodes": 1, "gateway_us_per_delivery": 50.0, "nats_us_per_message": 100.0},
                {"nodes": 3, "gateway_us_per_delivery": 55.0, "nats_us_per_message": 300.0},
            ]
        },
    ),
}


def test_connections_bound_the_gateway_pods_when_deliveries_fit() -> None:
    measured = measured_from(RESULTS)
    assert measured.gateway_deliveries_per_core == 100_000  # fanout wins over the cluster run
    p = plan(measured)
    assert p.gateway_pods_by_connections == 100
    assert p.gateway_pods_by_deliveries == 10  # 500,000 / (100,000 x 50 %)
    assert p.gateway_pods == 100
    assert p.gateway_memory_per_pod_gib == pytest.approx((2**27 + 10_000 * 50_000) * 1.25 / 2**30)


def test_writes_split_into_shards_by_the_measured_drain_rate() -> None:
    p = plan(measured_from(RESULTS))
    assert p.messages_per_second == {10: 50_000, 1000: 500}
    assert p.persistence_processes == {10: 5, 1000: 1}  # 50,000 / (20,000 x 50 %)
    assert p.postgres_cores[10] == pytest.approx(2.0)  # 50,000 x 20 µs / 50 %
    # (15 + 5) µs at R1, times 3 for R3 (the cluster run's ratio), at 50 % headroom
    assert p.nats_cores_r3[10] == pytest.approx(50_000 * 60 / 1e6 / 0.5)


def test_without_a_fanout_result_the_cluster_runs_gateway_figure_is_used() -> None:
    measured = measured_from({k: v for k, v in RESULTS.items() if k != "fanout"})
    assert measured.gateway_deliveries_per_core == pytest.approx(20_000)
    assert "cluster" in measured.sources["deliveries"]


def test_nothing_measured_is_said_so(tmp_path: Path) -> None:
    text = render(Measured(), plan(Measured()))
    assert "not measured yet" in text
    doc = tmp_path / "scaling.md"
    doc.write_text(f"intro\n{BEGIN}\nold\n{END}\nrest\n")
    rewrite(tmp_path / "no-results", doc)
    rewritten = doc.read_text()
    assert rewritten.startswith("intro\n")
    assert rewritten.endswith("\nrest\n")
    assert "old" not in rewritten
    assert "not measured yet" in rewritten


def test_chat_cores_follow_chats_cpu_per_message_in_the_latency_run() -> None:
    steps = [
        {"label": "warm-up", "sent": 100, "systemCpu": {"chat": 9.0}},
        {"label": "measure", "sent": 20_000, "systemCpu": {"chat": 4.0}},
    ]
    latency = result("latency", {"systems": {"gateway": {"steps": steps}}})
    measured = measured_from({**RESULTS, "latency": latency})
    assert measured.chat_us_per_message == pytest.approx(200.0)  # the measured step only
    assert plan(measured).chat_cores[10] == pytest.approx(50_000 * 200 / 1e6 / 0.5)
    assert plan(measured_from(RESULTS)).chat_cores[10] is None


def test_a_load_generator_bound_capacity_gives_way_to_the_gateway_s_cpu_per_delivery() -> None:
    fanout = result(
        "fanout",
        {
            "systems": {
                "gateway": {
                    "capacity": 40_000,
                    "capacityRate": 40,
                    "steps": [
                        {"offeredRate": 20, "serverCpuMicrosPerDelivery": 20.0},
                        {
                            "offeredRate": 40,
                            "serverCpuMicrosPerDelivery": 16.0,
                            "serverCpuFraction": 0.64,
                        },
                    ],
                }
            }
        },
    )
    measured = measured_from({**RESULTS, "fanout": fanout})
    assert measured.gateway_deliveries_per_core == pytest.approx(1e6 / 16.0)
    assert "its core was 64% busy" in measured.sources["deliveries"]
    # A capacity the gateway's own core set stays the figure.
    assert measured_from(RESULTS).gateway_deliveries_per_core == 100_000


def test_the_whole_durable_chat_path_is_planned_from_issue_18_s_cost_per_message() -> None:
    measure = {
        "label": "measure",
        "sent": 20_000,
        "acked": 20_000,
        "deliveredInWindow": 200_000,
        "serverCpuSeconds": 6.0,  # 200,000 frames x 10 µs = 2 s of fan-out: 4 s its share
        "systemCpu": {"chat": 4.0, "nats": 1.0, "persistence": 1.0, "postgres": 0.5},
    }
    latency = result("latency", {"systems": {"gateway": {"steps": [measure]}}})
    fanout = result(
        "fanout",
        {
            "efficiencyRate": 60,
            "systems": {
                "gateway": {
                    "capacity": 100_000,
                    "steps": [{"offeredRate": 60, "lost": 0, "serverCpuMicrosPerDelivery": 10.0}],
                }
            },
        },
    )
    measured = measured_from({**RESULTS, "latency": latency, "fanout": fanout})
    assert measured.chat_path_parts == pytest.approx(
        {"gateway": 200.0, "chat": 200.0, "nats": 50.0, "persistence": 50.0, "postgres": 25.0}
    )
    assert measured.chat_path_us_per_message == pytest.approx(525.0)
    assert measured.chat_us_per_message == pytest.approx(200.0)  # per acked message
    p = plan(measured)
    assert p.chat_path_cores[10] == pytest.approx(50_000 * 525 / 1e6 / 0.5)
    assert "525 (gateway 200, chat 200, nats 50, persistence 50, postgres 25)" in render(
        measured, p
    )
    assert plan(measured_from(RESULTS)).chat_path_cores[10] is None


def sse(*, entries: int, recipients: int | None, notification: float) -> ScenarioResult:
    """sse_fanout's measured broadcast; without ``recipients`` as saved before broadcasts were
    stored once per audience."""
    second: dict[str, object] = {
        "entries": entries,
        "received": 10_000,
        "cpu_seconds": {"notification": notification, "gateway": 0.15},
    }
    if recipients is not None:
        second["recipients"] = recipients
    return result("sse_fanout", {"streams": 10_000, "broadcasts": {"second broadcast": second}})


def test_a_broadcast_stored_once_costs_notification_the_same_for_a_million_users() -> None:
    once = measured_from({"sse_fanout": sse(entries=1, recipients=10_000, notification=0.004)})
    assert once.notification_us_per_entry == pytest.approx(4_000.0)
    assert once.broadcast_stored_once is True
    assert plan(once).broadcast_seconds_per_million == pytest.approx(0.004)  # not 4,000 s
    text = render(once, plan(once))
    assert "| notification CPU per broadcast, stored once for its audience" in text
    assert "notification core-seconds (stored once: as for any audience) | 0.004 |" in text
    assert "per broadcast inbox entry" not in text


def test_an_old_broadcast_of_one_entry_per_recipient_is_planned_per_recipient() -> None:
    old = measured_from({"sse_fanout": sse(entries=10_000, recipients=None, notification=0.4)})
    assert old.notification_us_per_entry == pytest.approx(40.0)
    assert old.broadcast_stored_once is False
    assert plan(old).broadcast_seconds_per_million == pytest.approx(40.0)
    text = render(old, plan(old))
    assert "| notification CPU per broadcast inbox entry (µs) | 40 | sse_fanout |" in text
    assert "| a broadcast to 1,000,000 users: notification core-seconds | 40 | same |" in text


def test_a_broadcast_stored_once_takes_notifications_cpu_from_the_write_sides_meter() -> None:
    """Its few ms read 0 on the delivery meter's clock ticks; the write side counts them to the
    nanosecond."""
    saved = sse(entries=1, recipients=10_000, notification=0.0)
    second = field_at(saved.data, "broadcasts", "second broadcast")
    assert isinstance(second, dict)
    second["write"] = {"cpu_seconds": {"notification": 0.00215}, "entries": 1}
    measured = measured_from({"sse_fanout": saved})
    assert measured.notification_us_per_entry == pytest.approx(2_150.0)
    assert plan(measured).broadcast_seconds_per_million == pytest.approx(0.00215)
