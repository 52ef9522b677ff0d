"""Coalescing bursts: at most one publish per key per interval. Pure: the caller keeps time.

The first change of a quiet key goes out at once; changes within the interval after a publish
wait for its end and go out together, as one.
"""

__all__ = ["Coalescer"]


class Coalescer:
    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._last: dict[str, float] = {}
        self._pending: set[str] = set()

    def change(self, key: str, now: float) -> float | None:
        """Seconds until ``key`` should be published (0: now), or None: already scheduled."""
        if key in self._pending:
            return None
        last = self._last.get(key)
        if last is None or now - last >= self._interval:
            self._last[key] = now
            return 0.0
        self._pending.add(key)
        return last + self._interval - now

    def due(self, key: str, now: float) -> None:
        """The scheduled publish of ``key`` is happening now."""
        self._pending.discard(key)
        self._last[key] = now

    def prune(self, now: float) -> None:
        """Forget keys quiet for longer than the interval (they would publish at once anyway)."""
        quiet = [k for k, t in self._last.items() if now - t >= self._interval]
        for key in quiet:
            if key not in self._pending:
                del self._last[key]
