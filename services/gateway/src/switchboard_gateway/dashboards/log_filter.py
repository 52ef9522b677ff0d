"""Which log entries a dashboard client asked for: a minimum level and/or one source. Pure."""

from dataclasses import dataclass
from typing import Any

from switchboard_contracts.dashboard import LOG_LEVELS, LogEntry, LogLevel, level_rank
from switchboard_contracts.ids import ID_PATTERN

__all__ = ["LogFilter", "LogFilterError", "parse_log_filter"]

_ALIASES = {"warn": "warning", "fatal": "critical"}


class LogFilterError(ValueError):
    """The subscription is not acceptable; the message names the field at fault."""


@dataclass(frozen=True)
class LogFilter:
    level: LogLevel | None = None
    """Entries at this level or above; None for every level."""
    source: str | None = None
    """Entries from this source only; None for every source."""

    def matches(self, entry: LogEntry) -> bool:
        if self.level is not None and level_rank(entry.level) < level_rank(self.level):
            return False
        return self.source is None or entry.source == self.source

    def describe(self) -> dict[str, str | None]:
        return {"level": self.level, "source": self.source}


def _level(value: Any) -> LogLevel | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        name = _ALIASES.get(value.lower(), value.lower())
        for level in LOG_LEVELS:
            if level == name:
                return level
    raise LogFilterError(f"level must be one of {', '.join(LOG_LEVELS)} (got {str(value)[:40]!r})")


def _source(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise LogFilterError("source must be 1-64 characters of letters, digits, '-' or '_'")
    return value


def parse_log_filter(level: Any = None, source: Any = None) -> LogFilter:
    return LogFilter(level=_level(level), source=_source(source))
