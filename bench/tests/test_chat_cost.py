"""Issue 18's figures from hand-made results: the cost per acked message against the store
floor, the chat capacity picked from a ladder, and the ratios to a baseline run."""

from pathlib import Path
from typing import Any

import pytest
from switchboard_bench.chat_cost import (
    Baseline,
    bare_path,
    capacity_pick,
    capacity_target,
    cost_of,
    cost_table,
    cost_target,
    load_baseline,
    speed_differences,
    speed_warning,
)
from switchboard_bench.cli import main, source_commit
from switchboard_bench.report import render
from switchboard_bench.results import ScenarioResult, load_results
from switchboard_bench.scenarios import chat_capacity, classic, latency


def result(name: str, data: dict[str, Any]) -> ScenarioResult:
    return ScenarioResult(scenario=name, title=name, method="", columns=[], rows=[], data=data)


MACHINE = {"cpu": "Test CPU", "cores": 2, "pythonSpeedMs": 100.0, "loopbackMicros": 7.0}


def run_results(
    *,
    gateway_cpu: float = 4.0,
    chat_cpu: float = 2.0,
    per_frame: float = 10.0,
    acked: int | None = 10_000,
    capacity: float | None = 1000.0,
    machine: dict[str, Any] | None = None,
    commit: str = "a" * 40,
) -> dict[str, ScenarioResult]:
    """One run's latency, fanout, persistence and chat_capacity results: 10,000 messages sent in
    the measured step, 100,000 frames delivered."""
    common = {"machine": machine or MACHINE, "commit": commit, "ranAt": "today"}
    step = {
        "label": "measure",
        "sent": 10_000,
        "acked": acked,
        "deliveredInWindow": 100_000,
        "serverCpuSeconds": gateway_cpu,
        "systemCpu": {
            "chat": chat_cpu,
            "nats": 0.5,
            "persistence": 0.5,
            "postgres": 0.2,
            "notification": 0.01,
        },
    }
    return {
        "latency": result(
            "latency",
            {"systems": {"gateway": {"steps": [{"label": "warm-up"}, step]}}} | common,
        ),
        "fanout": result(
            "fanout",
            {
                "efficiencyRate": 60,
                "systems": {
                    "gateway": {
                        "steps": [
                            {"offeredRate": 40, "serverCpuMicrosPerDelivery": 99.0},
                            {"offeredRate": 60, "lost": 0, "serverCpuMicrosPerDelivery": per_frame},
                        ]
                    }
                },
            }
            | common,
        ),
        "persistence": result(
            "persistence",
            {"cpu_us_per_message": {"persistence": 20.0, "nats": 5.0, "postgres": 10.0}} | common,
        ),
        "chat_capacity": result(
            "chat_capacity",
            {"systems": {"gateway": {"capacity": capacity, "atLeast": False}}} | common,
        ),
    }


def test_the_cost_counts_each_process_per_acked_message_and_the_gateway_s_receive_share() -> None:
    cost = cost_of(run_results())
    assert cost is not None
    # The gateway: 4 s over the window less 100,000 frames x 10 µs = 3 s, over 10,000 acked.
    assert cost.parts == pytest.approx(
        {"gateway": 300.0, "chat": 200.0, "nats": 50.0, "persistence": 50.0, "postgres": 20.0}
    )
    assert cost.not_counted == pytest.approx({"notification": 1.0})
    assert cost.total == pytest.approx(620.0)
    assert cost.floor == pytest.approx(15.0)  # NATS 5 + PostgreSQL 10 in the bulk run
    assert cost.ratio == pytest.approx(620.0 / 15.0)


def test_the_gateway_s_share_is_floored_at_zero_and_only_acked_messages_count() -> None:
    cost = cost_of(run_results(per_frame=50.0, acked=5_000))
    assert cost is not None
    assert cost.parts["gateway"] == 0.0  # 4 s - 100,000 x 50 µs < 0
    assert cost.acked == 5_000
    assert cost.parts["chat"] == pytest.approx(400.0)
    # No fan-out figure for the gateway's share: not measured, never guessed.
    assert cost_of({k: v for k, v in run_results().items() if k != "fanout"}) is None


def test_the_cost_target_is_met_at_four_times_the_floor_and_shows_today_s_ratio() -> None:
    cheap = run_results(gateway_cpu=1.3, chat_cpu=0.1)  # 30 + 10 + 50 + 50 + 20 = 160 µs
    baseline = Baseline(run_results(), Path("baseline"))
    target = cost_target(cheap, baseline)
    assert target.met is False  # 160 / 15 = 10.7x
    assert target.measured.startswith("10.67x the floor (160 vs 15.0 µs per message;")
    assert "today's 41.33x (620 µs)" in target.measured
    assert f"baseline commit {'a' * 12}" in target.measured
    assert target.limit.startswith("the parts above the floor, largest first: ")
    floor_run = run_results(gateway_cpu=1.0, chat_cpu=0.0)
    for part in ("nats", "persistence", "postgres"):
        systems: Any = floor_run["latency"].data["systems"]
        systems["gateway"]["steps"][1]["systemCpu"][part] = 0.05
    assert cost_target(floor_run, None).met is True  # 15 µs: 1x the floor
    missing = cost_target({"latency": run_results()["latency"]}, None)
    assert missing.met is None
    assert "fanout (gateway), persistence" in missing.limit


def path_floor(*, complete: bool = True) -> ScenarioResult:
    per = {"nats": 40.0, "sender": 60.0, "chat": 30.0, "persistence": 10.0}
    return result("path_floor", {"complete": complete, "acked": 20_000, "cpu_us_per_message": per})


def test_the_bare_path_sets_the_same_hops_without_service_work_beside_the_cost() -> None:
    results = run_results() | {"path_floor": path_floor()}
    bare = bare_path(results)
    assert bare is not None
    # The sender stands for the gateway; PostgreSQL is the bulk run's (the bare one writes none).
    assert bare.parts == pytest.approx(
        {"gateway": 60.0, "chat": 30.0, "nats": 40.0, "persistence": 10.0, "postgres": 10.0}
    )
    assert bare.ratio == pytest.approx(150.0 / 15.0)
    target = cost_target(results, None)
    assert "with bare clients (`path_floor`" in target.limit
    assert "costs 150 µs, 10.0x the floor, NATS alone 40 µs (2.7x the floor" in target.limit
    columns, rows = cost_table(results, None)
    assert rows[-1][0] == "bare clients (path_floor)"
    assert rows[-1][columns.index("total µs")] == 150.0
    # An incomplete run (a message lost or out of order) gives no figures at all.
    assert bare_path(run_results() | {"path_floor": path_floor(complete=False)}) is None
    assert "bare clients" not in cost_target(run_results(), None).limit


def step(rate: int, p99: float, *, lost: int = 0, acked: int | None = None) -> dict[str, Any]:
    sent = rate * 4
    return {
        "offeredRate": rate,
        "seconds": 4.0,
        "sent": sent,
        "unsent": 0,
        "acked": sent if acked is None else acked,
        "lost": lost,
        "latency": {"p50": 5.0, "p99": p99},
        "serverCpuFraction": 0.5,
        "loadgenCpuFraction": 0.3,
    }


def test_capacity_is_the_acked_rate_of_the_last_step_before_the_first_failing_one() -> None:
    warmup = {**step(250, 500.0), "warmup": True}
    ladder = [warmup, step(250, 20), step(500, 40), step(1000, 60, acked=3999), step(1500, 10)]
    good, bad = capacity_pick(ladder)
    assert good is not None
    assert bad is not None
    assert (good["offeredRate"], bad["offeredRate"]) == (500, 1000)  # one send unacked
    assert capacity_pick([step(250, 150.0)]) == (None, step(250, 150.0))
    assert capacity_pick([step(250, 10, lost=1)])[0] is None
    # A reference server has no acks: its steps pass on latency and loss alone.
    assert capacity_pick([{**step(250, 10), "acked": None}])[1] is None

    summary = chat_capacity.summarise(
        {"gateway": {"steps": ladder, "stoppedBecause": "1 sends unacked"}}, chat_capacity.QUICK
    )
    systems = summary.data["systems"]
    assert isinstance(systems, dict)
    gateway = systems["gateway"]
    assert gateway["capacity"] == pytest.approx(500.0)  # 2,000 acked in 4 s
    assert gateway["capacityRate"] == 500
    assert gateway["atLeast"] is False
    assert "write path" in gateway["limit"]
    assert [row[1] for row in summary.rows] == [250, 500, 1000, 1500]


def test_the_capacity_target_is_four_times_the_baseline_s() -> None:
    baseline = Baseline(run_results(capacity=1000.0), Path("baseline"))
    assert capacity_target(run_results(capacity=4000.0), baseline).met is True
    short = capacity_target(run_results(capacity=2500.0), baseline)
    assert short.met is False
    assert short.measured.startswith("2.50x today's (2,500 acked msg/s vs 1,000)")
    without = capacity_target(run_results(capacity=2500.0), None)
    assert without.met is None
    assert "no baseline results" in without.limit
    never = run_results(capacity=None)
    never["chat_capacity"].data["systems"] = {
        "gateway": {"capacity": None, "stoppedBecause": "p99 120 ms > 100 ms at 250 msg/s"}
    }
    below = capacity_target(run_results(capacity=2500.0), Baseline(never, Path("baseline")))
    assert below.met is None
    assert "the baseline passed no step (its ladder stopped because: p99 120 ms" in below.limit


def test_speed_readings_more_than_15_percent_apart_are_flagged() -> None:
    assert speed_differences(MACHINE, {**MACHINE, "pythonSpeedMs": 110.0}) == {}
    differ = speed_differences(MACHINE, {**MACHINE, "loopbackMicros": 5.0})
    assert differ == pytest.approx({"loopbackMicros": 1.4})
    assert speed_differences(MACHINE, {"cpu": "no readings"}) == {}
    slow = run_results(machine={**MACHINE, "pythonSpeedMs": 150.0}, commit="b" * 40)
    slow_baseline = Baseline(slow, Path("baseline"))
    target = cost_target(run_results(), slow_baseline)
    assert "speed readings more than 15% apart from this run's" in target.measured
    assert "pythonSpeedMs 0.67x the baseline's" in speed_warning(run_results(), slow_baseline)
    section = render(run_results(), {}, Path("/nonexistent"), slow_baseline)
    assert "> **Speed readings differ:** this run's speed readings differ" in section


def test_the_report_judges_issue_18_against_the_baseline_directory(tmp_path: Path) -> None:
    for saved in run_results(capacity=3000.0).values():
        saved.save(tmp_path / "results")
    for saved in run_results(capacity=1000.0, commit="c" * 40).values():
        saved.save(tmp_path / "results" / "baseline")
    baseline = load_baseline(tmp_path / "results" / "baseline")
    assert baseline is not None
    assert baseline.commit == "c" * 12
    text = render(load_results(tmp_path / "results"), {}, tmp_path, baseline)
    section = text.split("## Issue 18", 1)[1]
    assert "| this run | 300.00 | 200.00 | 50.00 | 50.00 | 20.00 | 620.00 | 15.00 | 41.33 |" in (
        section
    )
    assert "| baseline | 300.00 |" in section
    assert f"baseline commit {'c' * 12}, speed readings 100 ms / 7 µs" in section
    summary = text.split("## Summary", 1)[1].split("## Machine", 1)[0]
    assert "| Durable chat capacity |" in summary
    assert "3.00x today's (3,000 acked msg/s vs 1,000)" in summary
    # Without a baseline the ratios to today's are not measured.
    assert "smoke sizes" not in section
    dirty = run_results(commit="d" * 40 + "+dirty")
    dirty["latency"].data["quick"] = True
    flagged = render(run_results(), {}, tmp_path, Baseline(dirty, Path("baseline")))
    assert f"baseline commit {'d' * 12}+dirty" in flagged
    assert "> **The baseline's latency ran at smoke sizes (--quick):**" in flagged
    alone = render(run_results(), {}, tmp_path)
    assert "_No baseline results: the ratios to today's are not measured._" in alone
    assert load_baseline(tmp_path / "nowhere") is None


def latency_raw(p99: float, lost: int = 0) -> dict[str, dict[str, Any]]:
    measure: dict[str, Any] = {
        "label": "measure",
        "sent": 20_000,
        "acked": 20_000,
        "sentPerSecond": 2000.0,
        "lost": lost,
        "own": {"p50": 1.0, "p90": 2.0, "p99": p99, "p999": p99, "max": p99},
        "latency": {"p99": p99},
    }
    node = {**measure, "own": {**measure["own"], "p99": 2.0}}
    return {"gateway": {"steps": [measure]}, "node-ws": {"steps": [node]}}


def test_the_rooms_latency_target_is_50_ms_absolute_with_the_node_ratio_as_context() -> None:
    config = {"connections": 1000, "roomSize": 10, "intervalMs": 500, "durationMs": 10_000}
    config["warmupMs"] = 0
    (target,) = latency.summarise(latency_raw(40.0), config, None).targets
    assert target.met is True  # 20x Node's, but under 50 ms
    assert "<= 50 ms at 2,000 msg/s, nothing lost" in target.goal
    assert target.measured.startswith("p99 40.00 ms at 2,000 msg/s, lost 0, acked 20,000 of")
    assert "20.00x of Node.js" in target.measured
    assert latency.summarise(latency_raw(60.0), config, None).targets[0].met is False
    assert latency.summarise(latency_raw(40.0, lost=1), config, None).targets[0].met is False


def test_the_classic_target_asks_for_every_ack_and_p99_within_twice_node_s() -> None:
    config = {"connections": 2, "roomSize": 2, "messages": 1, "gapMs": 100, "drainMs": 1000}

    def raw(p99: float, acked: int = 2, node: bool = True) -> dict[str, dict[str, Any]]:
        gw = {"sent": 2, "acked": acked, "lost": 0, "delivered": 4, "latency": {"p99": p99}}
        gw["own"] = {}
        ref = {**gw, "acked": None, "latency": {"p99": 10.0}}
        return {"gateway": {"steps": [gw]}} | ({"node-ws": {"steps": [ref]}} if node else {})

    assert classic.summarise(raw(20.0), config).targets[0].met is True
    assert classic.summarise(raw(21.0), config).targets[0].met is False
    assert classic.summarise(raw(5.0, acked=1), config).targets[0].met is False
    alone = classic.summarise(raw(5.0, node=False), config).targets[0]
    assert alone.met is None
    assert "no Node.js reference" in alone.limit


def test_a_run_into_the_baseline_directory_leaves_the_report_on_the_results_it_is_compared_with(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for saved in run_results(capacity=3000.0).values():
        saved.save(tmp_path / "results")
    for saved in run_results(capacity=1000.0, commit="c" * 40).values():
        saved.save(tmp_path / "results" / "baseline")
    (tmp_path / "results" / "fanout.json").unlink()  # the plots need a full fan-out result
    (tmp_path / "results" / "baseline" / "fanout.json").unlink()
    baseline = str(tmp_path / "results" / "baseline")
    assert main(["--report-only", "--out", str(tmp_path), "--results-dir", baseline]) == 0
    assert "report from" in capsys.readouterr().out
    text = (tmp_path / "REPORT.md").read_text()
    assert "3.00x today's (3,000 acked msg/s vs 1,000)" in text
    assert f"baseline commit {'c' * 12}" in text


def test_a_run_records_the_commit_it_ran_from() -> None:
    commit = source_commit()
    assert len(commit.removesuffix("+dirty")) == 40
    int(commit.removesuffix("+dirty"), 16)


def test_the_classic_target_judges_the_median_round_and_needs_every_round_complete() -> None:
    config = {"connections": 2, "roomSize": 2, "messages": 1, "gapMs": 100, "drainMs": 1000}

    def round_of(gateway_p99: float, node_p99: float, acked: int = 2) -> dict[str, Any]:
        gw = {"sent": 2, "acked": acked, "lost": 0, "delivered": 4, "latency": {"p99": gateway_p99}}
        gw["own"] = {}
        ref = {**gw, "acked": None, "latency": {"p99": node_p99}}
        return {"gateway": {"steps": [gw]}, "node-ws": {"steps": [ref]}}

    # ratios 7.5x, 1.5x, 3.0x: the median is round 3's, over 2x
    rounds = [round_of(75.0, 10.0), round_of(30.0, 20.0), round_of(60.0, 20.0)]
    result = classic.summarise_rounds(rounds, config)
    (target,) = result.targets
    assert target.met is False
    assert result.data["chosenRound"] == 3
    assert result.rows[0][8] == 60.0  # the table is the chosen round's
    assert "round 3 of 3, the median" in target.measured
    assert "7.50x (75 vs 10 ms), 1.50x (30 vs 20 ms), 3.00x (60 vs 20 ms)" in target.measured

    met = classic.summarise_rounds(
        [round_of(75.0, 10.0), round_of(36.0, 20.0), round_of(30.0, 20.0)], config
    )
    assert met.targets[0].met is True  # 1.8x, the median of 7.5x, 1.8x and 1.5x
    assert met.data["chosenRound"] == 2

    lossy = [round_of(30.0, 20.0), round_of(60.0, 20.0, acked=1), round_of(32.0, 20.0)]
    (short,) = classic.summarise_rounds(lossy, config).targets
    assert short.met is False
    assert "round(s) 2 lost or left unacked messages" in short.limit

    single = classic.summarise_rounds([round_of(30.0, 20.0)], config)
    assert single.targets == classic.summarise(round_of(30.0, 20.0), config).targets
