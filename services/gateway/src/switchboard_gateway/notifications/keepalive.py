"""Every notification stream's keepalive from one timer.

Every stream gets a comment line once per ``interval``, so that proxies keep it open. A timer per
stream meant 10,000 timers in the loop's heap and a task woken per keepalive (10,000 idle streams
kept 7 % of the gateway's core busy). Here the streams are spread over ``TICKS`` buckets, and
one task pings a bucket per ``interval / TICKS``: each stream is pinged once per interval
(the first time between ``(TICKS - 1) / TICKS`` of it and all of it after it was added). A ping
is written through the stream's sink when its producer waits with nothing to do, with no task
woken; otherwise the producer writes the keepalive itself (``InboxFollower.ping``).

A stream is pinged once per interval even when it wrote events meanwhile: one comment line more
for a busy stream, which costs less than noting the time of every event.
"""

import asyncio
import contextlib
import logging

from switchboard_gateway.notifications.inbox_follower import InboxFollower
from switchboard_gateway.transport.sse import KEEPALIVE

__all__ = ["TICKS", "KeepaliveSweep"]

TICKS = 15

log = logging.getLogger(__name__)


class KeepaliveSweep:
    def __init__(self, interval: float, ticks: int = TICKS) -> None:
        self._tick = interval / ticks
        self._buckets: list[set[InboxFollower]] = [set() for _ in range(ticks)]
        self._bucket_of: dict[InboxFollower, int] = {}
        self._turn = 0
        """The bucket pinged at the next tick."""
        self._task: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._bucket_of)

    def add(self, follower: InboxFollower) -> None:
        """Pinged from one interval on (into the bucket pinged last, next pinged last)."""
        if follower in self._bucket_of:
            return
        bucket = (self._turn - 1) % len(self._buckets)
        self._buckets[bucket].add(follower)
        self._bucket_of[follower] = bucket

    def discard(self, follower: InboxFollower) -> None:
        bucket = self._bucket_of.pop(follower, None)
        if bucket is not None:
            self._buckets[bucket].discard(follower)

    def tick(self) -> None:
        """Ping the next bucket's streams."""
        bucket = self._buckets[self._turn]
        self._turn = (self._turn + 1) % len(self._buckets)
        for follower in tuple(bucket):
            follower.ping(KEEPALIVE)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="sse-keepalives")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._tick)
            try:
                self.tick()
            except Exception:  # the next tick's streams must still get theirs
                log.exception("pinging SSE streams failed")
