"""Exponential backoff with full jitter: after the n-th failure, wait uniformly in
[0, min(cap, base * 2**n)], so that many clients cut off together do not come back together."""

import random
from collections.abc import Callable

__all__ = ["Backoff"]


class Backoff:
    def __init__(
        self,
        base: float = 0.2,
        cap: float = 10.0,
        rand: Callable[[float, float], float] = random.uniform,
    ) -> None:
        if base <= 0 or cap < base:
            raise ValueError("backoff needs 0 < base <= cap")
        self.base = base
        self.cap = cap
        self._rand = rand
        self.failures = 0

    def next_delay(self) -> float:
        """The delay before the next attempt; each call counts one more failure."""
        ceiling = min(self.cap, self.base * 2**self.failures)
        self.failures += 1
        return self._rand(0.0, ceiling)

    def jitter(self, ceiling: float) -> float:
        """A delay in [0, ceiling]: for a reconnect the server asked for (1012), not a failure."""
        return self._rand(0.0, min(ceiling, self.cap))

    def reset(self) -> None:
        """A connection worked: the next failure starts from ``base`` again."""
        self.failures = 0
