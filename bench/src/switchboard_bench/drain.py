"""The rate at which a backlog was worked off, from samples of how much was done when."""

from dataclasses import dataclass

__all__ = ["DrainSample", "drain_rate"]


@dataclass(frozen=True)
class DrainSample:
    at: float
    """Monotonic seconds."""
    done: int


def drain_rate(samples: list[DrainSample], total: int) -> float:
    """Items per second between the first sample that saw progress and the one that saw
    ``total`` (or the last one): start-up before the first item does not count, and the items
    done before that first sample are left out of the count."""
    started = next((s for s in samples if s.done > 0), None)
    if started is None:
        return 0.0
    finished = next((s for s in samples if s.done >= total), samples[-1])
    if finished.at <= started.at:
        return 0.0
    return (finished.done - started.done) / (finished.at - started.at)
