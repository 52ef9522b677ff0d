"""Body chunks of a streaming HTTP response written straight to uvicorn's transport.

A long-lived stream (SSE) writes one small chunk per event. Through ASGI each chunk passes every
middleware's ``send`` wrapper and a ``wait_for``; written directly it is one ``transport.write``.
``ConnectionAbort`` (outermost) records uvicorn's ``httptools`` request cycle in the scope;
``direct_body`` gives a writer for it once the response has started with chunked encoding.

``try_write`` never waits: when uvicorn's flow control has paused writing (the client stopped
reading and the socket's buffer passed its high-water mark), when the client went away, or when
the response is complete, it writes nothing and returns False, and the caller sends the chunk
through ASGI as before (which waits for the client, under the caller's own timeout). The bytes
on the wire are the same as uvicorn's own ``send`` would write. Under another server, or for a
``HEAD`` request or an unchunked response, there is no writer and the caller uses ASGI.
"""

from typing import Any

from starlette.types import Scope, Send

__all__ = ["DirectBody", "direct_body", "record_cycle"]

_KEY = "switchboard.http_cycle"


def record_cycle(scope: Scope, send: Send) -> None:
    """Keep uvicorn's ``httptools`` request cycle behind ``send`` in the scope, if it is one."""
    cycle: Any = getattr(send, "__self__", None)
    if all(hasattr(cycle, name) for name in ("transport", "flow", "chunked_encoding")):
        scope[_KEY] = cycle


class DirectBody:
    """A response's direct writer. ``try_write`` runs once per stream per event of a broadcast
    (10,000 streams in a row), so it reads as few objects as it can: only the transport (which
    the write touches anyway), not uvicorn's flow control and request cycle. Its checks are
    theirs: the transport's buffer past its high-water mark is ``flow.write_paused`` (uvicorn
    pauses at that mark), a closing transport is ``cycle.disconnected``, and ``close`` (before the
    response's last body) is ``cycle.response_complete``."""

    __slots__ = ("_high_water", "_open", "_transport")

    def __init__(self, cycle: Any) -> None:
        self._transport = cycle.transport
        self._high_water: int = self._transport.get_write_buffer_limits()[1]
        self._open = True

    def try_write(self, body: bytes) -> bool:
        """Write ``body`` as one chunk now; False when it must go through ASGI instead."""
        transport = self._transport
        if (
            not self._open
            or transport.is_closing()
            or transport.get_write_buffer_size() > self._high_water
        ):
            return False
        transport.write(b"%x\r\n%b\r\n" % (len(body), body))
        return True

    def close(self) -> None:
        """Write nothing more: the response is about to end (through ASGI)."""
        self._open = False


def direct_body(scope: Scope) -> DirectBody | None:
    """A direct writer for the response body, after ``http.response.start`` was sent."""
    cycle: Any = scope.get(_KEY)
    if cycle is None or scope.get("method") == "HEAD":
        return None
    if not cycle.response_started or cycle.chunked_encoding is not True:
        return None
    return DirectBody(cycle)
