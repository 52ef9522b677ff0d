"""How many frames a connection may send. Pure: the caller passes the time.

A token bucket: ``rate`` frames per second on average, bursts up to ``burst``. A frame over the
limit is refused; a connection refused ``strikes`` times within ``window`` seconds is closed
with 4429.
"""

from collections import deque

__all__ = ["FrameRateLimit"]


class FrameRateLimit:
    __slots__ = ("_at", "_burst", "_rate", "_refused", "_strikes", "_tokens", "_window")

    def __init__(self, rate: float, burst: int, strikes: int, window: float = 10.0) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._at: float | None = None
        self._strikes = strikes
        self._window = window
        self._refused: deque[float] | None = None
        # Created at the first refusal: an empty deque costs ~600 bytes, and most
        # connections (one limit each, one per user) are never refused.

    def allow(self, now: float) -> bool:
        if self._at is not None:
            self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        refused = self._refused
        if refused is None:
            refused = self._refused = deque()
        refused.append(now)
        while refused and now - refused[0] > self._window:
            refused.popleft()
        return False

    @property
    def exhausted(self) -> bool:
        """True once the connection was refused too often: close it with 4429."""
        return self._refused is not None and len(self._refused) >= self._strikes
