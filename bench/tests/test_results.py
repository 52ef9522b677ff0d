"""A scenario's result survives the round trip through bench/results/<scenario>.json."""

from pathlib import Path

from switchboard_bench.results import ScenarioResult, Target, load_results


def test_a_result_reads_back_as_written(tmp_path: Path) -> None:
    result = ScenarioResult(
        scenario="fanout",
        title="Room fan-out",
        method="one room, 1000 receivers",
        columns=["system", "deliveries/s"],
        rows=[["gateway", 150000], ["node-ws", 120000]],
        targets=[Target("Fan-out capacity", ">= 1.25x node-ws", "1.25x", met=True)],
        plots=["fanout.png"],
        notes=["load generator at 40 % of its core"],
        data={"steps": [1, 2]},
    )
    result.save(tmp_path)
    assert load_results(tmp_path) == {"fanout": result}
