"""Smoke runs of the system scenarios (persistence, SSE fan-out, cluster) at tiny sizes: each
starts its stack, measures, checks its own invariants and hands back a result the report can
use. Figures from these runs mean nothing."""

import shutil
from pathlib import Path

import pytest
from switchboard_bench.context import BenchContext
from switchboard_bench.scenarios import SCENARIOS

pytestmark = pytest.mark.e2e


@pytest.fixture
def ctx(tmp_path: Path) -> BenchContext:
    return BenchContext(out_dir=tmp_path / "out", work_dir=tmp_path / "work", quick=True)


def test_persistence_stores_every_message_once_and_acks_after_commit(ctx: BenchContext) -> None:
    result = SCENARIOS["persistence"](ctx)
    assert result.data["exactly_once"] is True
    assert result.data["acked_before_commit_samples"] == 0
    assert float(str(result.data["messages_per_second"])) > 0


@pytest.mark.skipif(shutil.which("node") is None, reason="the SSE load generator needs Node.js")
def test_sse_fanout_reaches_every_stream(ctx: BenchContext) -> None:
    result = SCENARIOS["sse_fanout"](ctx)
    broadcasts = result.data["broadcasts"]
    assert isinstance(broadcasts, dict)
    for figures in broadcasts.values():
        assert figures["missing"] == 0
        assert figures["received"] == result.data["streams"]
        # One NOTIFY entry for the audience, however many streams it reached.
        assert figures["entries"] == 1
        assert figures["recipients"] == result.data["streams"]
        assert figures["write"]["entries"] == 1
    team = result.data["team_broadcasts"]
    assert isinstance(team, dict)
    assert all(r["entries"] == 1 and r["recipients"] == 10 for r in team["rounds"])


def test_cluster_gateways_each_receive_each_message_once(ctx: BenchContext) -> None:
    result = SCENARIOS["cluster"](ctx)
    [target] = result.targets
    assert target.met is True, target.measured
    runs = result.data["runs"]
    assert isinstance(runs, list)
    assert [run["nodes"] for run in runs] == [1, 3]


def test_path_floor_stores_acks_and_republishes_every_message_once_in_order(
    ctx: BenchContext,
) -> None:
    result = SCENARIOS["path_floor"](ctx)
    assert result.data["complete"] is True, result.notes
    assert int(str(result.data["acked"])) > 0
    per = result.data["cpu_us_per_message"]
    assert isinstance(per, dict)
    assert set(per) == {"nats", "sender", "chat", "persistence"}


def test_event_cost_acks_and_writes_every_message_edit_and_reaction(ctx: BenchContext) -> None:
    result = SCENARIOS["event_cost"](ctx)
    assert result.data["complete"] is True, result.notes
    phases = result.data["phases"]
    assert isinstance(phases, list)
    assert [p["kind"] for p in phases] == ["message", "edit", "reaction"]
    assert all(p["acked"] == p["sent"] > 0 for p in phases)
