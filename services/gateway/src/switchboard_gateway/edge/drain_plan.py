"""When each connection of a draining gateway is closed, and what reconnect delay it is told.

Closing every connection at once sends every client to the other gateways at once: a reconnect
storm. The drain spreads closes over a window in batches, each batch at a jittered moment of its
slot, and tells each client to wait a jittered delay before reconnecting. Pure: the gateway's
drain (``drain.py``) does the I/O.
"""

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["DrainPlan", "plan_drain"]


@dataclass(frozen=True)
class DrainPlan:
    offsets: list[float]
    """Seconds after the drain starts at which the i-th connection is closed (non-decreasing)."""
    reconnect_ms: list[int]
    """The reconnect delay told to the i-th connection."""


def plan_drain(
    count: int,
    window_seconds: float,
    batch_size: int,
    max_reconnect_ms: int,
    rand: Callable[[float, float], float] = random.uniform,
) -> DrainPlan:
    """Close ``count`` connections in batches of ``batch_size`` spread over ``window_seconds``:
    batch k closes at a random moment of the k-th of equal slots, so the last one closes within
    the window. Each connection is told to reconnect after a uniform delay up to
    ``max_reconnect_ms``."""
    if count <= 0:
        return DrainPlan([], [])
    batches = math.ceil(count / max(1, batch_size))
    slot = max(0.0, window_seconds) / batches
    moments = sorted(k * slot + rand(0.0, slot) for k in range(batches))
    offsets = [moments[i // max(1, batch_size)] for i in range(count)]
    reconnect = [round(rand(0.0, float(max_reconnect_ms))) for _ in range(count)]
    return DrainPlan(offsets, reconnect)
