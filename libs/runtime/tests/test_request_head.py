"""A request head over the limits gets 414 or 431 at once, on plain HTTP and on a WebSocket
upgrade alike, and the connection ends; a head within them reaches the app. What the refusal
relies on in uvicorn and ``websockets`` is pinned."""

import ast
import asyncio
import contextlib
import inspect
import json
import textwrap
from contextlib import AbstractAsyncContextManager

import pytest
from starlette.types import Receive, Scope, Send
from switchboard_devstack.asgi import serving as serving_asgi
from switchboard_runtime.patches.uvicorn_lean_ws import LeanWebSocketProtocol
from switchboard_runtime.patches.uvicorn_request_head import (
    MAX_HEADERS,
    MAX_LINE_BYTES,
    BoundedHttpToolsProtocol,
)
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from websockets.exceptions import HeaderLineTooLong
from websockets.server import ServerProtocol

WAIT = 5.0
UPGRADE = (
    b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
)


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Accepts every WebSocket; answers HTTP 200 with the size of the body it read."""
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 1000})
        return
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(size).encode()})


def serving(
    http: type[HttpToolsProtocol] = BoundedHttpToolsProtocol,
) -> AbstractAsyncContextManager[int]:
    return serving_asgi(app, http=http, ws=LeanWebSocketProtocol)


async def exchange(port: int, *writes: bytes) -> bytes:
    """All the server answers to ``writes``, read until it ends the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for data in writes:
            writer.write(data)
            await writer.drain()
        async with asyncio.timeout(WAIT):
            return await reader.read()  # returns at the end of the connection only
    finally:
        writer.close()


async def first_status(port: int, data: bytes) -> int:
    """The status of the answer to ``data`` (a WebSocket stays open: read no further)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        async with asyncio.timeout(WAIT):
            return int((await reader.readline()).split()[1])
    finally:
        writer.close()


def statuses(answer: bytes) -> list[int]:
    return [int(line.split()[1]) for line in answer.split(b"\r\n") if line.startswith(b"HTTP/1.1 ")]


def request(target: bytes, *headers: bytes, upgrade: bool = False) -> bytes:
    head = b"GET " + target + b" HTTP/1.1\r\nHost: test\r\n"
    head += UPGRADE if upgrade else b"Connection: close\r\n"
    return head + b"".join(header + b"\r\n" for header in headers) + b"\r\n"


def line_of(size: int) -> bytes:
    """An ``x-pad`` header line of ``size`` bytes, CRLF included."""
    return b"x-pad: " + b"x" * (size - len(b"x-pad: \r\n"))


def target_of(size: int) -> bytes:
    """A target making the request line ``size`` bytes, CRLF included."""
    return b"/?q=" + b"x" * (size - len(b"GET /?q= HTTP/1.1\r\n"))


def test_the_limits_are_those_of_websockets_and_of_the_documentation() -> None:
    assert (MAX_LINE_BYTES, MAX_HEADERS) == (8192, 128)


@pytest.mark.parametrize("upgrade", [False, True], ids=["http", "websocket"])
async def test_a_head_at_the_limits_is_served_and_one_byte_more_is_refused(upgrade: bool) -> None:
    served = 101 if upgrade else 200
    async with serving() as port:
        at_limit = request(target_of(MAX_LINE_BYTES), line_of(MAX_LINE_BYTES), upgrade=upgrade)
        assert await first_status(port, at_limit) == served
        long_target = request(target_of(MAX_LINE_BYTES + 1), upgrade=upgrade)
        answer = await exchange(port, long_target)
        assert statuses(answer) == [414]
        assert "request line too long" in json.loads(answer.partition(b"\r\n\r\n")[2])["error"]
        long_header = request(b"/", line_of(MAX_LINE_BYTES + 1), upgrade=upgrade)
        answer = await exchange(port, long_header)
        assert statuses(answer) == [431]
        assert b"connection: close\r\n" in answer
        error = json.loads(answer.partition(b"\r\n\r\n")[2])["error"]
        assert error.startswith("request header fields too large")
        fixed = 5 if upgrade else 2  # Host and the upgrade's four, or Host and Connection
        most = request(b"/", *[b"x-n: 1"] * (MAX_HEADERS - fixed), upgrade=upgrade)
        assert await first_status(port, most) == served
        too_many = request(b"/", *[b"x-n: 1"] * (MAX_HEADERS - fixed + 1), upgrade=upgrade)
        assert statuses(await exchange(port, too_many)) == [431]


async def test_a_header_streamed_without_end_is_refused_before_it_is_read_whole() -> None:
    async with serving() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        answered = asyncio.create_task(reader.read())  # returns at the end of the connection
        try:
            writer.write(b"GET / HTTP/1.1\r\nHost: test\r\nx-pad: ")
            for _ in range(64):  # 4 MiB in all, unless the server answers first
                if answered.done():
                    break
                writer.write(b"x" * 65_536)
                with contextlib.suppress(ConnectionError):
                    await writer.drain()
            async with asyncio.timeout(WAIT):
                answer = await answered
        finally:
            writer.close()
    assert statuses(answer) == [431]


async def test_keep_alive_requests_with_bodies_are_not_taken_for_long_lines() -> None:
    body = b"y" * 20_000  # no LF: were it counted as the next request's line, that would refuse
    post = b"POST / HTTP/1.1\r\nHost: test\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    async with serving() as port:
        answer = await exchange(port, post + post + request(b"/"), post)
        assert statuses(answer) == [200, 200, 200]
        answer = await exchange(port, post + request(b"/", line_of(MAX_LINE_BYTES + 1)))
        assert statuses(answer) == [200, 431]


async def test_without_the_http_limits_the_websocket_protocol_still_answers_and_closes() -> None:
    """uvicorn's own httptools protocol hands an oversized upgrade on to ``websockets``."""
    async with serving(HttpToolsProtocol) as port:
        answer = await exchange(port, request(b"/", line_of(MAX_LINE_BYTES + 1), upgrade=True))
        assert statuses(answer) == [431]
        answer = await exchange(port, request(target_of(MAX_LINE_BYTES + 1), upgrade=True))
        assert statuses(answer) == [414]


def test_websockets_refuses_an_oversized_handshake_without_an_event() -> None:
    """Why ``LeanWebSocketProtocol.data_received`` looks at ``handshake_exc``: uvicorn writes only
    what handling an event produces, and there is none."""
    conn = ServerProtocol()
    conn.receive_data(request(b"/", line_of(MAX_LINE_BYTES + 1), upgrade=True))
    assert conn.events_received() == []
    assert isinstance(conn.handshake_exc, HeaderLineTooLong)
    assert conn.parser_exc is None  # uvicorn's own check does not see it


def test_uvicorn_answers_any_parser_error_with_send_400_response() -> None:
    """``BoundedHttpToolsProtocol`` refuses from a parser callback and answers in its override."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(HttpToolsProtocol.data_received)))
    handlers = [
        handler
        for handler in ast.walk(tree)
        if isinstance(handler, ast.ExceptHandler)
        and handler.type is not None
        and ast.unparse(handler.type) == "httptools.HttpParserError"
    ]
    assert [
        ast.unparse(call.func)
        for handler in handlers
        for call in ast.walk(handler)
        if isinstance(call, ast.Call) and ast.unparse(call.func).startswith("self.")
    ][-1:] == ["self.send_400_response"]
