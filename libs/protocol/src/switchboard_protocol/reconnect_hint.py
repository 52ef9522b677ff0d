"""The reason of a 1012 close: ``service restart; reconnect in <n> ms`` (docs/protocol.md §2).

A draining gateway spreads its clients' returns over a random delay it chooses, so that a
rolling restart brings no reconnect storm; clients read the delay back with ``parse``."""

import re

__all__ = ["format_hint", "parse_hint"]

_HINT = re.compile(r"reconnect in (\d+) ms")


def format_hint(delay_ms: int) -> str:
    return f"service restart; reconnect in {delay_ms} ms"


def parse_hint(reason: str) -> int | None:
    """The delay in milliseconds a close reason asks for, or None when it names none."""
    found = _HINT.search(reason)
    return int(found.group(1)) if found else None
