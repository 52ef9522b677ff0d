"""Token buckets: a steady rate with a burst allowance. Pure: the caller passes the time."""

from dataclasses import dataclass

__all__ = ["TokenBucket"]


@dataclass
class TokenBucket:
    rate_per_second: float
    burst: float
    tokens: float = -1.0
    updated_at: float = 0.0

    def take(self, now: float, cost: float = 1.0) -> bool:
        """Spend ``cost`` tokens if there are enough; False means the limit is exceeded."""
        if self.tokens < 0:
            self.tokens, self.updated_at = self.burst, now
        elapsed = max(0.0, now - self.updated_at)
        self.tokens = min(self.burst, self.tokens + elapsed * self.rate_per_second)
        self.updated_at = now
        if self.tokens >= cost:
            self.tokens -= cost
            return True
        return False
