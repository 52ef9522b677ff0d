"""The harness end to end, at --quick sizes: fan-out against both references and the gateway on
the real path (embedded NATS and PostgreSQL, five services), then the report. Figures from a
smoke run mean nothing; that every part still runs, measures and reports does."""

import json
from pathlib import Path

import pytest
from switchboard_bench.cli import main
from switchboard_bench.stats import histogram_from, percentile

pytestmark = pytest.mark.e2e


def test_quick_fanout_runs_every_system_and_writes_the_report(tmp_path: Path) -> None:
    assert (
        main(["--only", "fanout", "--quick", "--out", str(tmp_path), "--work", str(tmp_path)]) == 0
    )

    saved = json.loads((tmp_path / "results" / "fanout.json").read_text())
    systems = saved["data"]["systems"]
    assert list(systems) == ["gateway", "node-ws", "websockets"]
    for name, figures in systems.items():
        assert figures["connections"]["open"] == 50, name
        steps = figures["steps"]
        assert steps, name
        first = steps[0]
        # Every message reached every receiver and was measured, on every system.
        assert first["sent"] > 0, name
        assert first["delivered"] == first["expected"] == first["sent"] * 50, name
        assert first["latency"]["count"] == first["delivered"], name
        assert first["serverCpuSeconds"] > 0, name
        assert 0 < first["loadgenCpuFraction"] < 1, name
        # The Python percentile of the histogram agrees with the load generator's own.
        p99 = percentile(histogram_from(first["histogram"]), 0.99)
        assert p99 is not None
        assert first["latency"]["p99"] == pytest.approx(min(p99, first["latency"]["max"]), abs=1e-3)
    # After the ladders, the gateway and Node.js carried the comparison step again, in turn.
    (round_,) = saved["data"]["comparisonRounds"]
    assert list(round_) == ["gateway", "node-ws"]
    for name, step in round_.items():
        assert step["offeredRate"] == saved["data"]["efficiencyRate"], name
        assert step["delivered"] == step["expected"] == step["sent"] * 50 > 0, name
        assert step["serverCpuMicrosPerDelivery"] > 0, name
    gateway_first = systems["gateway"]["steps"][0]
    assert gateway_first["acked"] == gateway_first["sent"]
    assert set(gateway_first["systemCpu"]) >= {"nats", "postgres", "chat", "persistence"}

    report = (tmp_path / "REPORT.md").read_text()
    assert "| Fan-out capacity |" in report
    assert "| Fan-out CPU per delivered frame |" in report
    assert (tmp_path / "fanout-throughput.png").exists()
