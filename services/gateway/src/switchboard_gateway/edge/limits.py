"""Per-user counters and rate limits shared by a user's connections. Pure: no I/O.

``UserCounter`` bounds how many of something (WebSocket connections, SSE and long-poll
streams) one user holds at once; ``UserFrameRates`` is one token bucket per user, shared by
all their connections on this gateway, kept only while the user has a connection;
``UserBuckets`` is one per user for requests that hold no connection (HTTP), kept while it
matters.
"""

from switchboard_runtime.service.token_bucket import TokenBucket

from switchboard_gateway.edge.rate_limit import FrameRateLimit

__all__ = ["Admission", "UserBuckets", "UserCounter", "UserFrameRates"]


class UserCounter:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._counts: dict[str, int] = {}

    def enter(self, user: str) -> bool:
        count = self._counts.get(user, 0)
        if count >= self.limit:
            return False
        self._counts[user] = count + 1
        return True

    def leave(self, user: str) -> None:
        count = self._counts.get(user, 0) - 1
        if count > 0:
            self._counts[user] = count
        else:
            self._counts.pop(user, None)

    def count(self, user: str) -> int:
        return self._counts.get(user, 0)


class UserFrameRates:
    def __init__(self, rate: float, burst: int, strikes: int) -> None:
        self._rate = rate
        self._burst = burst
        self._strikes = strikes
        self._limits: dict[str, tuple[FrameRateLimit, int]] = {}

    def acquire(self, user: str) -> FrameRateLimit:
        """The user's bucket, for one more connection; ``release`` it when that one ends."""
        limit, holders = self._limits.get(user) or (
            FrameRateLimit(self._rate, self._burst, self._strikes),
            0,
        )
        self._limits[user] = (limit, holders + 1)
        return limit

    def release(self, user: str) -> None:
        found = self._limits.get(user)
        if found is None:
            return
        limit, holders = found
        if holders <= 1:
            del self._limits[user]
        else:
            self._limits[user] = (limit, holders - 1)


class UserBuckets:
    """A token bucket per user (``rate`` per second, bursts of ``burst``) for requests. A bucket
    left alone for ``burst / rate`` seconds is full again, the same as a new one, so it is
    dropped then (swept at most that often): the map holds only recently active users."""

    def __init__(self, rate: float, burst: int) -> None:
        self._rate = rate
        self._burst = burst
        self._idle = burst / rate
        self._buckets: dict[str, tuple[TokenBucket, float]] = {}
        self._swept = 0.0

    def allow(self, user: str, now: float) -> bool:
        """Whether a request of ``user`` at ``now`` is within the limit (it takes a token)."""
        if now - self._swept >= self._idle:
            self._buckets = {
                u: (b, at) for u, (b, at) in self._buckets.items() if now - at < self._idle
            }
            self._swept = now
        found = self._buckets.get(user)
        bucket = found[0] if found is not None else TokenBucket(self._rate, self._burst)
        self._buckets[user] = (bucket, now)
        return bucket.take(now)

    def __len__(self) -> int:
        return len(self._buckets)


class Admission:
    """How many WebSocket connections this gateway holds, and each user, against the limits."""

    def __init__(self, limit: int, per_user: int | None = None) -> None:
        self.limit = limit
        self.active = 0
        self._users = UserCounter(per_user if per_user is not None else limit)

    def enter(self, user_id: str) -> str | None:
        """None if admitted, else why not."""
        if self.active >= self.limit:
            return "connection limit reached; retry later"
        if not self._users.enter(user_id):
            return "too many connections for this user; close one first"
        self.active += 1
        return None

    def leave(self, user_id: str) -> None:
        self.active -= 1
        self._users.leave(user_id)
