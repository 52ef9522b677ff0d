"""sse_fanout's result from hand-made rounds: a broadcast stored once for its audience is
described as such (one entry, its recipients), in its notes, its limit and its saved figures."""

from pathlib import Path
from typing import Any

from switchboard_bench.broadcast_write import WriteSide
from switchboard_bench.context import BenchContext
from switchboard_bench.latency import LatencySummary
from switchboard_bench.scenarios.sse_fanout import TEAM_SIZE, Round, _result

STREAMS = 10_000


def write(recipients: int, cpu: float = 0.004) -> WriteSide:
    return WriteSide({"notification": cpu / 2, "nats": cpu / 2}, 9.0, 1, recipients)


def round_(*, p99: float = 200.0, stored_ms: float = 12.0) -> Round:
    return Round(
        summary=LatencySummary(
            received=STREAMS, missing=0, p50_ms=p99 / 2, p99_ms=p99, max_ms=p99 + 10
        ),
        cpu={"gateway": 0.15, "notification": 0.002, "nats": 0.001},
        accepted_ms=3.0,
        first_written_ms=stored_ms,
        last_written_ms=stored_ms,
        entries=1,
        write=write(STREAMS),
    )


def result(measured: Round) -> Any:
    ctx = BenchContext(out_dir=Path("/nonexistent"), work_dir=Path("/nonexistent"))
    connected: dict[str, object] = {"ok": STREAMS, "failed": 0, "seconds": 20.0, "errors": {}}
    rounds = {"first broadcast": round_(), "second broadcast": measured}
    team = [write(TEAM_SIZE, cpu) for cpu in (0.003, 0.004, 0.005)]
    return _result(ctx, STREAMS, connected, {"gateway": 1.0}, STREAMS, rounds, team)


def test_a_broadcast_stored_once_is_noted_as_one_entry_for_its_recipients() -> None:
    met = result(round_())
    [target] = met.targets
    assert target.met is True
    assert target.limit == ""
    notes = "\n".join(met.notes)
    assert "one NOTIFY entry for its 10,000 recipients, stored 12 ms after the request" in notes
    assert "to everyone (10,000 users, 1 entry) 4.0 ms of CPU" in notes
    assert "to team `bench-ten` (10 users, 1 entry each), median of 3, 4.00 ms" in notes
    assert "inbox entries" not in notes
    assert "fan-out on write" not in met.method + notes


def test_the_saved_figures_keep_their_keys_and_add_the_recipients() -> None:
    data = result(round_()).data
    measured = data["broadcasts"]["second broadcast"]
    assert measured["entries"] == 1
    assert measured["recipients"] == STREAMS
    assert measured["last_entry_stored_ms"] == 12.0
    assert measured["write"] == {
        "cpu_seconds": {"notification": 0.002, "nats": 0.002},
        "stored_ms": 9.0,
        "entries": 1,
        "recipients": STREAMS,
        "window_ms": None,
        "complete": True,
    }
    team = data["team_broadcasts"]
    assert team["recipients"] == TEAM_SIZE
    assert [r["recipients"] for r in team["rounds"]] == [TEAM_SIZE] * 3


def test_a_slow_store_is_the_limit_named_as_storing_the_broadcast() -> None:
    slow = result(round_(p99=1_200.0, stored_ms=900.0))
    [target] = slow.targets
    assert target.met is False
    assert target.limit.startswith(
        "storing the broadcast: its entry stored 900 ms after the request"
    )
    assert "fan-out on write" not in target.limit
    fast_store = result(round_(p99=1_200.0))
    [target] = fast_store.targets
    assert target.limit.startswith("the gateway's SSE delivery: p99 1,188 ms after the broadcast")


def test_of_several_measured_broadcasts_the_median_by_p99_is_the_measured_one() -> None:
    ctx = BenchContext(out_dir=Path("/nonexistent"), work_dir=Path("/nonexistent"))
    connected: dict[str, object] = {"ok": STREAMS, "failed": 0, "seconds": 20.0, "errors": {}}
    measured = [round_(p99=p99) for p99 in (300.0, 180.0, 240.0)]
    for r, gateway in zip(measured, (0.25, 0.15, 0.2), strict=True):
        r.cpu["gateway"] = gateway
    rounds = {"first broadcast": round_(), **{f"measured {n}": r for n, r in enumerate(measured)}}
    team = [write(TEAM_SIZE)]
    saved: Any = _result(ctx, STREAMS, connected, {"gateway": 1.0}, STREAMS, rounds, team)
    assert saved.data["broadcasts"]["second broadcast"]["p99_ms"] == 240.0
    assert saved.data["gateway_us_per_event"] == 20.0  # 0.2 s for 10,000 events, the median
    assert saved.data["measured_rounds"] == 3
    [target] = saved.targets
    assert "p99 240 ms" in target.measured
