"""The origin allow-list for WebSocket and SSE handshakes: exact matches only."""

from collections.abc import Iterable

__all__ = ["OriginPolicy"]


class OriginPolicy:
    """Empty allow-list: every origin is accepted (local development). ``*`` likewise."""

    def __init__(self, allowed: Iterable[str]) -> None:
        self._allowed = frozenset(origin.rstrip("/") for origin in allowed)

    def allows(self, origin: str | None) -> bool:
        if not self._allowed or "*" in self._allowed:
            return True
        if origin is None:
            return True  # not a browser: origins only protect browsers' ambient credentials
        return origin.rstrip("/") in self._allowed
