"""REPORT.md as rebuilt from saved results, and how scenarios turn figures into targets."""

from pathlib import Path
from typing import Any

from switchboard_bench.calibration import LOOPBACK, SPEED, readings
from switchboard_bench.report import render, table, write_report
from switchboard_bench.results import ScenarioResult, Target
from switchboard_bench.scenarios import fanout, idle_memory, latency
from switchboard_bench.scenarios.common import limit_of


def result(targets: list[Target]) -> ScenarioResult:
    return ScenarioResult(
        scenario="fanout",
        title="Room fan-out",
        method="one room, 1000 receivers",
        columns=["system", "deliveries/s"],
        rows=[["gateway", 150000], ["node-ws | ref", None]],
        targets=targets,
        notes=["load generator at 40% of its core"],
        data={"machine": {"cpu": "Test CPU", "cores": 2, "node": "v20"}, "ranAt": "today"},
    )


def test_the_summary_lists_every_target_as_met_or_not_with_its_ratio() -> None:
    text = render(
        {
            "fanout": result(
                [
                    Target("Fan-out capacity", ">= 1.25x", "1.31x (157,000 vs 120,000)", True),
                    Target("CPU per frame", "<= 2/3", "0.90x", False, limit="JSON per member"),
                    Target("Memory", "<= Node", "n/a", None, limit="not run"),
                ]
            )
        },
        {"fanout": ["fanout-throughput.png"]},
        Path("/nonexistent"),
    )
    summary = text.split("## Summary", 1)[1].split("## Machine", 1)[0]
    assert "| Fan-out capacity | >= 1.25x | 1.31x (157,000 vs 120,000) | met | - |" in summary
    assert "| CPU per frame | <= 2/3 | 0.90x | **not met** | JSON per member |" in summary
    assert "| Memory | <= Node | n/a | not measured | not run |" in summary
    assert "CPU: Test CPU, 2 cores" in text
    assert "![fanout-throughput.png](fanout-throughput.png)" in text
    assert "- load generator at 40% of its core" in text


def test_table_cells_are_escaped_and_formatted() -> None:
    text = table(["a", "b", "c"], [["x | y", 1234567, 0.5], [None, 2.0, "z"]])
    assert text.splitlines() == [
        "| a | b | c |",
        "|---|---|---|",
        "| x \\| y | 1,234,567 | 0.50 |",
        "| - | 2.00 | z |",
    ]


def test_the_report_is_rebuilt_from_saved_results_with_its_plots(tmp_path: Path) -> None:
    size = fanout.QUICK
    raw = {
        "gateway": {"steps": [step(20, 1000, 12.0), step(40, 2000, 150.0)]},
        "node-ws": {"steps": [step(20, 1000, 5.0), step(40, 2000, 80.0)]},
    }
    fanout.summarise(raw, size).save(tmp_path / "results")
    path = write_report(tmp_path)
    text = path.read_text()
    assert "Room fan-out: capacity and CPU per delivered frame" in text
    assert (tmp_path / "fanout-throughput.png").stat().st_size > 0
    assert (tmp_path / "fanout-latency.png").stat().st_size > 0


def step(rate: int, delivered: float, p99: float, lost: int = 0) -> dict[str, Any]:
    return {
        "step": rate,
        "label": f"{rate} msg/s",
        "offeredRate": rate,
        "offeredDeliveries": rate * 50,
        "deliveriesPerSecond": delivered,
        "deliveredInWindow": delivered,
        "lost": lost,
        "latency": {"p50": 1.0, "p99": p99, "max": p99},
        "histogram": {"baseMs": 0.01, "ratio": 1.02, "counts": [[300, 10]]},
        "serverCpuFraction": 0.95,
        "restCpuFraction": 0.1,
        "loadgenCpuFraction": 0.3,
        "loadgenCpuSeconds": 0.3,
        "serverCpuMicrosPerDelivery": 10.0 if p99 < 100 else 12.0,
        "systemCpuMicrosPerDelivery": 20.0,
    }


def test_capacity_is_the_last_step_before_the_first_that_fails() -> None:
    steps = [step(20, 1000, 10), step(40, 2000, 20), step(60, 2900, 120), step(80, 3000, 5)]
    good, bad = fanout.capacity_of(steps)
    assert good is not None
    assert bad is not None
    assert (good["offeredRate"], bad["offeredRate"]) == (40, 60)
    lossy = [step(20, 1000, 10, lost=1)]
    assert fanout.capacity_of(lossy) == (None, lossy[0])
    assert fanout.capacity_of([step(20, 1000, 10)])[1] is None


def test_fanout_targets_are_ratios_to_the_node_reference() -> None:
    raw = {
        "gateway": {"steps": [step(20, 1000, 10), step(40, 2500, 20), step(60, 2900, 120)]},
        "node-ws": {"steps": [step(20, 1000, 10), step(40, 1900, 120)]},
    }
    capacity, cpu = fanout.summarise(raw, fanout.QUICK).targets
    assert capacity.met is True
    assert capacity.measured.startswith("2.50x of Node.js")
    assert cpu.met is False  # 10 µs against 10 µs: not two thirds
    assert cpu.measured.startswith("1.00x of Node.js")
    assert cpu.limit
    notes = fanout.summarise(raw, fanout.QUICK).notes
    assert "Load generator CPU against gateway: at most 30% of its core, 300.0 µs per" in notes[0]


def test_a_target_that_cannot_be_measured_says_so() -> None:
    raw: dict[str, dict[str, Any]] = {
        "gateway": {"steps": [step(20, 1000, 150)]},
        "node-ws": {"steps": []},
    }
    capacity, _ = fanout.summarise(raw, fanout.QUICK).targets
    assert capacity.met is None
    assert "saturated" in capacity.limit


def test_the_limit_names_the_saturated_core() -> None:
    assert "gateway's core saturated (95% CPU)" in limit_of("gateway", step(20, 1, 150))
    quiet = {**step(20, 1, 150), "serverCpuFraction": 0.3}
    assert "neither core saturated" in limit_of("gateway", quiet)
    busy_loadgen = {**quiet, "loadgenCpuFraction": 0.85}
    assert "second core full" in limit_of("gateway", busy_loadgen)
    shared = {
        **quiet,
        "seconds": 10.0,
        "loadgenCpuFraction": 0.2,
        "restCpuFraction": 0.75,
        "systemCpu": {"persistence": 2.5, "chat": 4.0, "nats": 1.0},
    }
    assert "rest of the system 75% (chat 40%, persistence 25%, nats 10%)" in limit_of(
        "gateway", shared
    )


def test_idle_memory_divides_growth_by_open_connections() -> None:
    def held(per_connection: int) -> dict[str, Any]:
        return {
            "connections": {"open": 100, "seconds": 1.0},
            "memory": {
                "rssBefore": 10 * 2**20,
                "rssHeld": 10 * 2**20 + 100 * per_connection,
                "bytesPerConnection": per_connection,
            },
        }

    summary = idle_memory.summarise({"gateway": held(8 * 1024), "node-ws": held(10 * 1024)}, 100)
    node, websockets = summary.targets
    assert node.met is True
    assert node.measured.startswith("0.80x of Node.js (8.0 vs 10.0 KB)")
    assert websockets.met is None  # not run


def test_idle_memory_compares_with_the_websockets_reference_for_issue_19() -> None:
    def held(per_connection: int) -> dict[str, Any]:
        return {
            "connections": {"open": 100, "seconds": 1.0},
            "memory": {"bytesPerConnection": per_connection},
        }

    summary = idle_memory.summarise(
        {"gateway": held(12 * 1024), "node-ws": held(6 * 1024), "websockets": held(13 * 1024)},
        100,
    )
    node, websockets = summary.targets
    assert node.met is False
    assert websockets.met is True
    assert websockets.measured.startswith("0.92x of websockets (12.0 vs 13.0 KB)")


def test_a_run_on_a_busy_machine_says_so() -> None:
    busy = result([])
    busy.data["systems"] = {"gateway": {"steps": [{"serverWaitFraction": 0.4}]}}
    assert "Not a quiet run" in render({"fanout": busy}, {}, Path("/nonexistent"))
    quiet = result([])
    quiet.data["systems"] = {"gateway": {"steps": [{"serverWaitFraction": 0.01}]}}
    assert "Not a quiet run" not in render({"fanout": quiet}, {}, Path("/nonexistent"))


def test_cpu_per_frame_is_compared_at_the_highest_step_every_system_carried() -> None:
    raw: dict[str, dict[str, Any]] = {
        "gateway": {"steps": [step(20, 1000, 10), step(40, 2000, 150)]},
        "node-ws": {"steps": [step(20, 1000, 10), step(40, 2000, 20)]},
    }
    assert fanout.efficiency_rate(raw, fanout.QUICK) == 20
    summary = fanout.summarise(raw, fanout.QUICK)
    assert summary.data["efficiencyRate"] == 20
    assert summary.targets[1].met is not None


def test_a_gateway_below_the_lowest_step_does_not_meet_the_capacity_target() -> None:
    raw: dict[str, dict[str, Any]] = {
        "gateway": {"steps": [step(20, 1000, 150)]},
        "node-ws": {"steps": [step(20, 1000, 10), step(40, 2000, 150)]},
    }
    capacity, _ = fanout.summarise(raw, fanout.QUICK).targets
    assert capacity.met is False
    assert capacity.measured.startswith("gateway below the lowest step (1,000/s)")


def test_the_speed_readings_are_shown_and_do_not_make_runs_look_like_other_machines() -> None:
    def on(scenario: str, speed: float, loopback: float) -> ScenarioResult:
        ran = result([])
        ran.scenario = scenario
        ran.data = {
            "machine": {
                "cpu": "Test CPU",
                "cores": 2,
                "pythonSpeedMs": speed,
                "loopbackMicros": loopback,
            },
            "ranAt": "today",
        }
        return ran

    text = render(
        {"fanout": on("fanout", 210.4, 5.1), "latency": on("latency", 380.0, 9.55)}, {}, Path("/x")
    )
    machine = text.split("## Machine", 1)[1].split("## Commands", 1)[0]
    assert "workload took 210.4 ms to 380 ms across the runs below" in machine
    assert "send and receive took 5.1 µs to 9.55 µs across the runs below" in machine
    assert "not all run on the same machine" not in machine
    assert "; speed readings 210 ms, 5.1 µs loopback._" in text
    assert "; speed readings 380 ms, 9.6 µs loopback._" in text


def test_the_speed_readings_are_taken_here() -> None:
    taken = readings(core=0)
    assert taken[SPEED] > 0
    assert taken[LOOPBACK] > 0


def test_half_capacity_is_not_judged_on_a_capacity_the_second_core_set() -> None:
    def ladder(server: float, loadgen: float, rest: float) -> dict[str, object]:
        return {
            "capacityRate": 40,
            "steps": [
                {"offeredRate": 40, "serverCpuFraction": 0.6},
                {
                    "offeredRate": 60,
                    "serverCpuFraction": server,
                    "loadgenCpuFraction": loadgen,
                    "restCpuFraction": rest,
                },
            ],
        }

    bound = latency.second_core_bound(ladder(server=0.8, loadgen=0.66, rest=0.29))
    assert bound is not None
    assert "lower bound" in bound
    assert latency.second_core_bound(ladder(server=0.97, loadgen=0.66, rest=0.29)) is None
    assert latency.second_core_bound(ladder(server=0.8, loadgen=0.4, rest=0.2)) is None
