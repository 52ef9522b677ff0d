"""The rate at which a backlog was worked off, from samples of how much was done when."""

from dataclasses import dataclass

__all__ = ["DrainSample", "drain_rate"]


@dataclass(frozen=True)
class DrainSample:
    at: float
    """Monotonic seconds."""
    done: int


def drain_rate(samples: list[DrainSample], total: int) -> float:
    """Items per second from the last sample before any progress (or the first sample that saw
    progress, when none came before it) to the first one that saw ``total`` (or the last one).
    Start-up before that does not count; the time between that sample and the first item does,
    so a short drain is not measured as infinitely fast."""
    first = next((i for i, s in enumerate(samples) if s.done > 0), None)
    if first is None:
        return 0.0
    started = samples[first - 1] if first > 0 else samples[first]
    finished = next((s for s in samples if s.done >= total), samples[-1])
    if finished.at <= started.at:
        return 0.0
    return (finished.done - started.done) / (finished.at - started.at)
