"""Liveness and readiness state of one service process."""

from collections.abc import Callable

__all__ = ["Health"]


class Health:
    """Readiness is the conjunction of named checks, and false while draining."""

    def __init__(self) -> None:
        self._checks: dict[str, Callable[[], bool]] = {}
        self.draining = False

    def add_check(self, name: str, check: Callable[[], bool]) -> None:
        self._checks[name] = check

    def failing(self) -> list[str]:
        failing = [name for name, check in self._checks.items() if not check()]
        if self.draining:
            failing.append("draining")
        return failing

    @property
    def ready(self) -> bool:
        return not self.failing()
