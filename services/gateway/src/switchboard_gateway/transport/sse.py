"""Server-Sent Events serialisation (the WHATWG ``text/event-stream`` format). Pure, no I/O.

An event is a block of ``field: value`` lines ended by an empty line. ``data`` may hold several
lines: each becomes its own ``data:`` line, and the client joins them with ``\\n``. ``id`` and
``event`` are single-line by definition; a line break (or, for ids, NUL) in one would let a
value inject fields or whole events, so they are refused.
"""

import re

__all__ = ["KEEPALIVE", "KEEPALIVE_KIND", "SseFieldError", "sse_comment", "sse_event"]

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_FORBIDDEN_IN_FIELD = re.compile(r"[\r\n\x00]")


class SseFieldError(ValueError):
    """An ``id`` or ``event`` value that cannot be sent safely."""


def _single_line(name: str, value: str) -> str:
    if _FORBIDDEN_IN_FIELD.search(value):
        raise SseFieldError(f"an SSE {name} must not contain CR, LF or NUL (got {value[:40]!r})")
    return value


def sse_event(
    data: str | None = None,
    *,
    event: str | None = None,
    id: str | int | None = None,
    retry_ms: int | None = None,
) -> str:
    """One event block. Without ``data`` nothing is dispatched, but ``id``/``retry`` still apply."""
    lines: list[str] = []
    if retry_ms is not None:
        if retry_ms < 0:
            raise SseFieldError(f"retry must be a non-negative number of ms (got {retry_ms})")
        lines.append(f"retry: {int(retry_ms)}")
    if id is not None:
        lines.append(f"id: {_single_line('id', str(id))}")
    if event is not None:
        lines.append(f"event: {_single_line('event name', event)}")
    if data is not None:
        lines.extend(f"data: {line}" for line in _LINE_BREAK.split(data))
    return "\n".join(lines) + "\n\n"


def sse_comment(text: str = "") -> str:
    """A comment line (``:text``), ignored by clients; keeps idle connections and proxies alive.

    Line breaks in ``text`` would end the comment, so each line is its own comment.
    """
    return "".join(f":{line}\n" for line in _LINE_BREAK.split(text)) + "\n"


KEEPALIVE = sse_comment("keepalive").encode()
"""The comment line that keeps an idle stream's proxies from closing it."""
KEEPALIVE_KIND = "keepalive"
"""A comment's kind for the metrics (``connection_metrics.event_type_of``)."""
