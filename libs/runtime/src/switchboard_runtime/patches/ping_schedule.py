"""One loop timer for every WebSocket's next keepalive ping, instead of one per connection.

uvicorn arms a loop timer per connection for its next ping (``call_later``): with uvloop a
``TimerHandle`` and a ``UVTimer``, about 0.54 KB per idle connection for its whole life.
``PingSchedule.call_later`` keeps the callback in a bucket for the whole second of loop time by
which it is due (rounded up: a ping goes out up to a second late, never early) and arms one
timer for the earliest bucket. ``cancel`` marks the entry; it leaves with its bucket.
"""

import asyncio
import heapq
import math
from collections.abc import Callable

__all__ = ["PingSchedule", "ScheduledPing", "ping_schedule"]


class ScheduledPing:
    """What ``call_later`` returns: ``cancel`` as a ``TimerHandle`` has it."""

    __slots__ = ("callback", "cancelled")

    def __init__(self, callback: Callable[[], object]) -> None:
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True
        self.callback = _nothing  # drops the connection's bound method at once


def _nothing() -> None:
    return None


class PingSchedule:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._buckets: dict[int, list[ScheduledPing]] = {}
        self._seconds: list[int] = []  # a heap of the buckets' seconds
        self._timer: asyncio.TimerHandle | None = None
        self._timer_second: int | None = None

    def call_later(self, delay: float, callback: Callable[[], object]) -> ScheduledPing:
        entry = ScheduledPing(callback)
        second = math.ceil(self._loop.time() + delay)
        bucket = self._buckets.get(second)
        if bucket is None:
            bucket = self._buckets[second] = []
            heapq.heappush(self._seconds, second)
        bucket.append(entry)
        if self._timer_second is None or second < self._timer_second:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = self._loop.call_at(second, self._fire)
            self._timer_second = second
        return entry

    def __len__(self) -> int:
        """Entries waiting, cancelled ones included until their second comes."""
        return sum(len(bucket) for bucket in self._buckets.values())

    def _fire(self) -> None:
        self._timer = None
        self._timer_second = None
        now = self._loop.time()
        seconds = self._seconds
        due: list[ScheduledPing] = []
        while seconds and seconds[0] <= now:
            due.extend(self._buckets.pop(heapq.heappop(seconds)))
        if seconds:
            self._timer = self._loop.call_at(seconds[0], self._fire)
            self._timer_second = seconds[0]
        for entry in due:
            if not entry.cancelled:
                callback = entry.callback
                entry.cancel()  # ran: a later ``cancel`` is a no-op, as for a TimerHandle
                try:
                    callback()
                except Exception as exc:  # one broken connection must not cost the others
                    self._loop.call_exception_handler(
                        {"message": "a keepalive ping failed", "exception": exc}
                    )


_SCHEDULES: dict[asyncio.AbstractEventLoop, PingSchedule] = {}
"""Each loop's schedule. Not weak-keyed: a schedule holds its loop (and its timer, whose handle
does too), so a weak key would never go; the schedules of closed loops are dropped instead."""


def ping_schedule(loop: asyncio.AbstractEventLoop) -> PingSchedule:
    """The loop's one schedule (a new loop's first call forgets those of closed loops)."""
    schedule = _SCHEDULES.get(loop)
    if schedule is None:
        for closed in [other for other in _SCHEDULES if other.is_closed()]:
            del _SCHEDULES[closed]
        schedule = _SCHEDULES[loop] = PingSchedule(loop)
    return schedule
