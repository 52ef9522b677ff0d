"""One timer for every WebSocket session's token expiry, instead of one per session.

Sessions are kept in buckets by the whole second after their token expires; a heap of those
seconds and a single loop timer for the earliest wake the sessions of each bucket when its second
comes, and each decides (its token may have been replaced meanwhile). An idle connection then
costs an entry in a set rather than a timer (uvloop's ``TimerHandle`` and ``UVTimer``, 0.54 KB);
a session that ends leaves its bucket at once, so nothing is kept for a token's remaining life.
"""

import asyncio
import heapq
import math
import time
from collections.abc import Callable
from typing import Protocol

__all__ = ["Expiring", "ExpirySchedule"]


class Expiring(Protocol):
    def expired(self) -> None:
        """Its bucket's second came: close, or ``add`` itself again for a later expiry."""


class ExpirySchedule:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._buckets: dict[int, set[Expiring]] = {}
        self._seconds: list[int] = []  # a heap; each bucket's second once
        self._timer: asyncio.TimerHandle | None = None
        self._timer_second: int | None = None

    def __len__(self) -> int:
        return sum(len(bucket) for bucket in self._buckets.values())

    def add(self, item: Expiring, expires_at: float) -> int:
        """Wake ``item`` once ``expires_at`` (wall-clock seconds) has passed; returns the bucket
        to ``discard`` it from."""
        second = math.floor(expires_at) + 1
        bucket = self._buckets.get(second)
        if bucket is None:
            bucket = self._buckets[second] = set()
            heapq.heappush(self._seconds, second)
        bucket.add(item)
        if self._timer_second is None or second < self._timer_second:
            self._arm(second)
        return second

    def discard(self, item: Expiring, second: int) -> None:
        bucket = self._buckets.get(second)
        if bucket is None:
            return
        bucket.discard(item)
        if not bucket:
            del self._buckets[second]  # its second stays in the heap until it comes: skipped
            if len(self._seconds) > 2 * len(self._buckets) + 64:
                self._seconds = sorted(self._buckets)  # under churn: a sorted list is a heap

    def _arm(self, second: int) -> None:
        if self._timer is not None:
            self._timer.cancel()
        delay = max(0.0, second - self._clock())
        self._timer = asyncio.get_running_loop().call_later(delay, self._fire)
        self._timer_second = second

    def _fire(self) -> None:
        self._timer = None
        self._timer_second = None
        now = self._clock()
        seconds = self._seconds
        due: list[Expiring] = []
        while seconds and seconds[0] <= now:
            due.extend(self._buckets.pop(heapq.heappop(seconds), ()))
        while seconds and seconds[0] not in self._buckets:
            heapq.heappop(seconds)  # emptied buckets
        if seconds:
            self._arm(seconds[0])
        for item in due:
            item.expired()
