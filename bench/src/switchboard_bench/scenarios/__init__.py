"""Every scenario, in the order ``make bench`` runs them.

A scenario is a module with ``run(ctx: BenchContext) -> ScenarioResult``; add it here.
"""

from collections.abc import Callable

from switchboard_bench.context import BenchContext
from switchboard_bench.results import ScenarioResult
from switchboard_bench.scenarios import (
    chat_capacity,
    classic,
    cluster,
    event_cost,
    fanout,
    idle_memory,
    latency,
    path_floor,
    persistence,
    sse_fanout,
)

__all__ = ["SCENARIOS", "Scenario"]

Scenario = Callable[[BenchContext], ScenarioResult]

SCENARIOS: dict[str, Scenario] = {
    "idle_memory": idle_memory.run,
    "fanout": fanout.run,
    "latency": latency.run,
    "classic": classic.run,
    "persistence": persistence.run,
    "path_floor": path_floor.run,
    "sse_fanout": sse_fanout.run,
    "cluster": cluster.run,
    "chat_capacity": chat_capacity.run,
    "event_cost": event_cost.run,
}
