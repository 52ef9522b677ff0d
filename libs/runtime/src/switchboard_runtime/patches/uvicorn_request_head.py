"""Limits on a request's head (request line and headers), the same for plain HTTP and WebSocket.

``run_service`` serves HTTP with ``BoundedHttpToolsProtocol``: uvicorn's httptools protocol, which
also parses every WebSocket upgrade before handing it to ``LeanWebSocketProtocol``. httptools
itself has no limit: a 10 MB header was read whole and passed to the app. ``websockets``, which
parses the upgrade again, refuses a line over ``MAX_LINE_BYTES`` or more than ``MAX_HEADERS``
headers; the limits here are the same, counted on the very request uvicorn hands it
(``METHOD target HTTP/1.1``, ``name: value``, each line with its CRLF), so that plain HTTP and
WebSocket upgrades are refused alike, before either reaches the app:

- a request line over ``MAX_LINE_BYTES``: 414 URI Too Long;
- a header line over ``MAX_LINE_BYTES``, or more than ``MAX_HEADERS`` headers: 431 Request Header
  Fields Too Large;

each with ``{"error": "<what is too large>"}`` and ``Connection: close`` (docs/protocol.md §1).
The connection is then half-closed, and what the client still sends is read and dropped until it
closes or ``LINGER_SECONDS`` pass: closing at once with its request half read would reset the
connection, and a reset can destroy the answer before the client reads it.

The path is checked as it arrives (httptools hands it over piece by piece); a header value only
arrives whole, so ``data_received`` also refuses a line still unfinished past the limit rather
than let httptools buffer it. Refusing from a parser callback relies on uvicorn answering a
parser error with ``send_400_response``, which this protocol overrides; ``test_request_head.py``
pins that.
"""

import asyncio
import json
from http import HTTPStatus
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from websockets import http11

__all__ = [
    "MAX_HEADERS",
    "MAX_LINE_BYTES",
    "BoundedHttpToolsProtocol",
    "headers_too_large",
    "refusal",
    "request_line_too_long",
]

MAX_LINE_BYTES = http11.MAX_LINE_LENGTH
"""The longest request line or header line, CRLF included: 8192 (``websockets``' own limit)."""

MAX_HEADERS = http11.MAX_NUM_HEADERS
"""The most header lines in a request: 128 (``websockets``' own limit)."""

LINGER_SECONDS = 2.0
"""How long a refused connection keeps reading (and dropping) the rest of its request."""

_PROTOCOL_PART = len(b"  HTTP/1.1\r\n")
"""What a request line holds besides its method and target: two spaces, protocol, CRLF."""


def request_line_too_long() -> tuple[HTTPStatus, str]:
    return (
        HTTPStatus.REQUEST_URI_TOO_LONG,
        f"request line too long: at most {MAX_LINE_BYTES} bytes (path and query string)",
    )


def headers_too_large() -> tuple[HTTPStatus, str]:
    return (
        HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
        f"request header fields too large: at most {MAX_HEADERS} headers"
        f" of at most {MAX_LINE_BYTES} bytes each",
    )


def refusal(status: HTTPStatus, error: str, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    """A complete HTTP/1.1 response refusing the request, to be followed by closing."""
    body = json.dumps({"error": error}).encode()
    head = [f"HTTP/1.1 {status.value} {status.phrase}\r\n".encode("ascii")]
    head.extend(name + b": " + value + b"\r\n" for name, value in default_headers)
    head.append(b"content-type: application/json\r\n")
    head.append(b"content-length: %d\r\n" % len(body))
    head.append(b"connection: close\r\n\r\n")
    return b"".join(head) + body


class _HeadTooLargeError(Exception):
    """Raised in a parser callback to stop httptools; the refusal is already recorded."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol refusing a request head over the limits (414 or 431)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.refused: tuple[HTTPStatus, str] | None = None
        self._head_open = False  # between a message's first byte and the end of its headers
        self._began_in_chunk = False
        self._header_count = 0
        self._unfinished_line = 0  # bytes of the head since its last LF, as far as counted
        self._linger: asyncio.TimerHandle | None = None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._linger is not None:
            self._linger.cancel()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.refused is not None:
            return  # answered: the rest of the request is dropped
        self._began_in_chunk = False
        super().data_received(data)
        if not self._head_open or self.refused is not None:
            return
        # The head is unfinished: all of ``data`` belongs to it unless the message began in it,
        # in which case counting starts with the next chunk (the exact checks still apply).
        last_lf = data.rfind(b"\n")
        if self._began_in_chunk:
            self._unfinished_line = 0
        elif last_lf < 0:
            self._unfinished_line += len(data)
        else:
            self._unfinished_line = len(data) - last_lf - 1
        if self._unfinished_line > MAX_LINE_BYTES:
            self.refused = headers_too_large()  # the path is checked as it arrives
            self._answer_refusal()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_open = True
        self._began_in_chunk = True
        self._header_count = 0
        self._unfinished_line = 0

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.parser.get_method()) + len(self.url) + _PROTOCOL_PART > MAX_LINE_BYTES:
            self.refused = request_line_too_long()
            raise _HeadTooLargeError

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > MAX_HEADERS or len(name) + len(value) + 4 > MAX_LINE_BYTES:
            self.refused = headers_too_large()
            raise _HeadTooLargeError
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._head_open = False
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        # uvicorn's answer to any parser error, ours (``_HeadTooLargeError``) included.
        if self.refused is None:
            super().send_400_response(msg)
        else:
            self._answer_refusal()

    def on_response_complete(self) -> None:
        if self.refused is not None and not self.pipeline and not self.transport.is_closing():
            self.server_state.total_requests += 1
            self._write_refusal()  # the requests before the refused one are answered
        else:
            super().on_response_complete()

    def _answer_refusal(self) -> None:
        """Answer now, or after the responses to the requests before this one (keep-alive)."""
        if self.pipeline or (self.cycle is not None and not self.cycle.response_complete):
            self.flow.pause_reading()  # what follows is dropped anyway
        else:
            self._write_refusal()

    def _write_refusal(self) -> None:
        assert self.refused is not None
        status, error = self.refused
        self.logger.info("Refused a request: %d %s", status.value, error)
        self.transport.write(refusal(status, error, self.server_state.default_headers))
        if self.transport.can_write_eof():  # not over TLS
            self.transport.write_eof()  # once the answer is out; the client sees the end
            self._linger = self.loop.call_later(LINGER_SECONDS, self.transport.close)
        else:
            self.transport.close()
