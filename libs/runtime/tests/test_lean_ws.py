"""``LeanWebSocketProtocol`` keeps no handshake and a small receive queue, and serves a real
client exactly as uvicorn's own protocol does; what uvicorn's code reads of what it drops is
pinned, so that an upgrade reading it again fails here."""

import ast
import asyncio
import contextlib
import inspect
import textwrap
from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send
from switchboard_devstack.asgi import serving as serving_asgi
from switchboard_devstack.polling import until
from switchboard_runtime.patches.light_event import LightEvent
from switchboard_runtime.patches.ping_schedule import ScheduledPing
from switchboard_runtime.patches.uvicorn_lean_ws import (
    SERVER_WIDE,
    LeanWebSocketProtocol,
    ReceiveQueue,
    ServerWide,
)
from switchboard_runtime.patches.uvicorn_ws_protocol import websocket_protocol
from switchboard_runtime.service.socket_end import on_socket_message
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.server import ServerProtocol

WAIT = 10.0


def _uses(attribute: str) -> dict[str, list[int]]:
    """Line numbers of ``self.<attribute>`` in each method of uvicorn's protocol."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(WebSocketsSansIOProtocol)))
    [cls] = tree.body
    assert isinstance(cls, ast.ClassDef)
    found: dict[str, list[int]] = {}
    for method in cls.body:
        if not isinstance(method, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(method):
            if (
                isinstance(node, ast.Attribute)
                and node.attr == attribute
                and isinstance(node.value, ast.Name)
                and node.value.id == "self"
            ):
                found.setdefault(method.name, []).append(node.lineno)
    return found


def _methods_of(attribute: str) -> set[str]:
    """What uvicorn's protocol calls or reads on ``self.<attribute>``."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(WebSocketsSansIOProtocol)))
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == attribute
    }


def test_uvicorn_reads_the_handshake_request_only_where_it_receives_it() -> None:
    assert set(_uses("request")) == {"handle_connect"}


def test_uvicorn_reads_the_response_last_just_before_it_starts_the_keepalive() -> None:
    uses = _uses("response")
    assert set(uses) == {"handle_connect", "send"}
    [keepalive] = _uses("start_keepalive")["send"]
    assert max(uses["send"]) < keepalive
    assert set(_uses("start_keepalive")) == {"send"}  # and nowhere else


def test_websockets_parser_never_reads_the_request_after_handing_it_over() -> None:
    """Its frame keeps ``request`` as a local while it parses frames, hence the emptied headers."""
    [parse] = [
        node
        for node in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(ServerProtocol))))
        if isinstance(node, ast.FunctionDef) and node.name == "parse"
    ]
    handed_over = max(
        node.lineno
        for node in ast.walk(parse)
        if isinstance(node, ast.Call) and ast.unparse(node) == "self.events.append(request)"
    )
    reads = [
        node.lineno
        for node in ast.walk(parse)
        if isinstance(node, ast.Name) and node.id == "request"
    ]
    assert max(reads) == handed_over


def test_uvicorn_uses_only_what_the_receive_queue_offers() -> None:
    assert _methods_of("queue") <= {"put_nowait", "get", "empty"}


def test_uvicorn_uses_only_what_the_light_writable_event_offers() -> None:
    assert _methods_of("writable") <= {"set", "clear", "wait", "is_set"}


async def test_the_receive_queue_is_fifo_and_wakes_waiting_getters_in_order() -> None:
    queue: ReceiveQueue[int] = ReceiveQueue()
    first = asyncio.create_task(queue.get())
    second = asyncio.create_task(queue.get())
    await asyncio.sleep(0)  # both are waiting
    for item in (1, 2, 3):
        queue.put_nowait(item)
    assert list(await asyncio.wait_for(asyncio.gather(first, second), WAIT)) == [1, 2]
    assert not queue.empty()
    assert await queue.get() == 3
    assert queue.empty()


async def test_a_queue_that_never_runs_empty_does_not_keep_what_was_taken() -> None:
    queue: ReceiveQueue[int] = ReceiveQueue()
    queue.put_nowait(0)
    for n in range(1, 10_000):
        queue.put_nowait(n)
        assert queue.get_nowait() == n - 1
    assert queue.qsize() == 1
    assert len(queue._items) < 200  # the storage itself is what this test is about
    assert await queue.get() == 9_999


async def test_a_getter_cancelled_after_its_wake_up_passes_it_on_and_loses_nothing() -> None:
    queue: ReceiveQueue[str] = ReceiveQueue()
    cancelled = asyncio.create_task(queue.get())
    waiting = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    queue.put_nowait("a")  # wakes ``cancelled`` ...
    cancelled.cancel()  # ... which is cancelled before it runs
    assert await asyncio.wait_for(waiting, WAIT) == "a"
    with pytest.raises(asyncio.CancelledError):
        await cancelled


async def test_a_cancelled_get_leaves_the_next_item_for_the_next_get() -> None:
    queue: ReceiveQueue[str] = ReceiveQueue()
    task = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    queue.put_nowait("kept")
    assert await queue.get() == "kept"


class EchoApp:
    """Echoes text until the client closes; ``close`` closes from the server; ``/deny`` refuses."""

    def __init__(self) -> None:
        self.protocols: list[WebSocketsSansIOProtocol | None] = []
        self.disconnect_codes: list[int] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "websocket"
        assert (await receive())["type"] == "websocket.connect"
        if scope["path"] == "/deny":
            await send({"type": "websocket.close", "code": 1008})
            return
        await send({"type": "websocket.accept", "headers": [(b"x-served-by", b"lean")]})
        self.protocols.append(websocket_protocol(scope))
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                self.disconnect_codes.append(message["code"])
                return
            if message.get("text") == "close":
                await send({"type": "websocket.close", "code": 4000, "reason": "bye"})
            else:
                await send({"type": "websocket.send", "text": message.get("text")})


@contextlib.asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    # no RecordWebSocketProtocol: the protocol puts itself in the scope
    async with serving_asgi(app, ws=LeanWebSocketProtocol) as port:
        yield f"ws://127.0.0.1:{port}"


async def test_a_client_is_served_and_the_connection_keeps_no_handshake() -> None:
    app = EchoApp()
    async with serving(app) as base, connect(f"{base}/echo") as client:
        assert client.response is not None
        assert client.response.headers["x-served-by"] == "lean"
        for text in ("one", "two", "x" * 70_000):
            await client.send(text)
            assert await asyncio.wait_for(client.recv(), WAIT) == text
        pong = await client.ping()
        await asyncio.wait_for(pong, WAIT)
        [protocol] = app.protocols
        assert isinstance(protocol, LeanWebSocketProtocol)
        assert not hasattr(protocol, "request")
        assert not hasattr(protocol, "response")
        assert not inspect.getgeneratorlocals(protocol.conn.parser)["request"].headers
        assert isinstance(protocol.queue, ReceiveQueue)
        writable: object = protocol.writable  # typed ``asyncio.Event`` by uvicorn
        assert isinstance(writable, LightEvent)
        assert writable.is_set()
        await client.close(code=1000)
    assert app.disconnect_codes == [1000]


async def test_a_close_from_the_app_reaches_the_client_with_its_code() -> None:
    app = EchoApp()
    async with serving(app) as base, connect(f"{base}/echo") as client:
        await client.send("close")
        await asyncio.wait_for(client.wait_closed(), WAIT)
    assert (client.close_code, client.close_reason) == (4000, "bye")


async def test_a_refused_handshake_is_answered_403() -> None:
    async with serving(EchoApp()) as base:
        with pytest.raises(InvalidStatus) as refused:
            await connect(f"{base}/deny")
    assert refused.value.response.status_code == 403


def _assigned_in() -> dict[str, set[str]]:
    """For each ``self.<attribute> = ...`` in uvicorn's protocol, the methods that assign it."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(WebSocketsSansIOProtocol)))
    assigned: dict[str, set[str]] = {}
    for method in ast.walk(tree):
        if not isinstance(method, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(method):
            targets = (
                node.targets
                if isinstance(node, ast.Assign)
                else [node.target]
                if isinstance(node, ast.AnnAssign | ast.AugAssign)
                else []
            )
            for target in targets:
                if (
                    isinstance(target, ast.Attribute)
                    and isinstance(target.value, ast.Name)
                    and target.value.id == "self"
                ):
                    assigned.setdefault(target.attr, set()).add(method.name)
    return assigned


def test_uvicorn_sets_the_server_wide_attributes_only_when_a_connection_is_made() -> None:
    assigned = _assigned_in()
    assert {name: assigned.get(name) for name in SERVER_WIDE} == {
        name: {"__init__"} for name in SERVER_WIDE
    }


def test_a_connection_keeps_few_enough_attributes_for_a_shared_key_table() -> None:
    """CPython 3.11 stores up to 29 attributes in a table shared by the class; one more and the
    instance gets a dict of its own (about 1.3 KB more per idle connection)."""
    per_connection = set(_assigned_in()) - set(SERVER_WIDE)
    assert len(per_connection) <= 29


async def test_a_connection_keeps_the_server_wide_values_on_the_class() -> None:
    app = EchoApp()
    async with serving(app) as base, connect(f"{base}/echo") as client:
        await client.send("one")
        assert await asyncio.wait_for(client.recv(), WAIT) == "one"
        [protocol] = app.protocols
        assert isinstance(protocol, LeanWebSocketProtocol)
        assert not set(SERVER_WIDE) & set(vars(protocol))
        assert protocol.app is not None
        assert protocol.logger.name == "uvicorn.error"


async def test_servers_with_other_apps_in_one_process_each_serve_their_own() -> None:
    first, second = EchoApp(), EchoApp()
    async with serving(first) as one, serving(second) as two:
        for base in (one, two, one):
            async with connect(f"{base}/echo") as client:
                await client.send("hi")
                assert await asyncio.wait_for(client.recv(), WAIT) == "hi"
        assert len(first.protocols) == 2
        assert len(second.protocols) == 1


def test_a_server_wide_value_set_differently_is_kept_by_that_instance() -> None:
    class Holder:
        _own_values: dict[str, Any] | None = None
        value = ServerWide("value")

    shared, other = object(), object()
    a, b, c = Holder(), Holder(), Holder()
    a.value = shared
    b.value = other
    c.value = shared
    assert (a.value, b.value, c.value) == (shared, other, shared)
    assert a._own_values is None
    assert b._own_values == {"value": other}


def test_uvicorn_only_cancels_the_ping_timer_and_arms_it_only_in_schedule_ping() -> None:
    assert _methods_of("ping_timer") <= {"cancel"}
    tree = ast.parse(textwrap.dedent(inspect.getsource(WebSocketsSansIOProtocol)))
    armed = {
        method.name
        for method in ast.walk(tree)
        if isinstance(method, ast.FunctionDef)
        for node in ast.walk(method)
        if isinstance(node, ast.Assign)
        and any(ast.unparse(target) == "self.ping_timer" for target in node.targets)
        and not (isinstance(node.value, ast.Constant) and node.value.value is None)
    }
    assert armed == {"schedule_ping"}


async def test_keepalive_pings_go_out_from_the_shared_schedule() -> None:
    app = EchoApp()
    async with (
        serving_asgi(
            app, ws=LeanWebSocketProtocol, ws_ping_interval=0.2, ws_ping_timeout=5
        ) as port,
        connect(f"ws://127.0.0.1:{port}/echo") as client,
    ):
        await client.send("one")
        assert await asyncio.wait_for(client.recv(), WAIT) == "one"
        [protocol] = app.protocols
        assert isinstance(protocol, LeanWebSocketProtocol)

        async def pong_came_back() -> bool:
            return protocol.last_ping_rtt > 0.0  # set when our ping's pong came back

        await until(pong_came_back, "a keepalive ping answered", timeout=WAIT)
        entry: object = protocol.ping_timer
        assert isinstance(entry, ScheduledPing | None)  # None only while a ping is in flight


async def test_connections_share_the_servers_address_and_keep_the_clients() -> None:
    app = EchoApp()
    async with (
        serving(app) as base,
        connect(f"{base}/echo") as one,
        connect(f"{base}/echo") as two,
    ):
        for client in (one, two):
            await client.send("hi")
            assert await asyncio.wait_for(client.recv(), WAIT) == "hi"
        first, second = app.protocols
        assert first is not None
        assert second is not None
        assert first.server is second.server
        assert first.client is not None
        assert second.client is not None
        assert first.client[0] is second.client[0]  # the host, interned
        assert first.client == one.local_address[:2]
        assert second.client == two.local_address[:2]


def test_the_receive_queue_shows_each_item_to_its_observers_and_keeps_it() -> None:
    queue: ReceiveQueue[str] = ReceiveQueue()
    seen: list[str] = []

    def broken(_: str) -> None:
        raise RuntimeError("boom")

    queue.put_nowait("before")
    queue.observe(broken)
    queue.observe(seen.append)
    queue.put_nowait("after")
    assert seen == ["after"]
    assert [queue.get_nowait(), queue.get_nowait()] == ["before", "after"]


async def test_layers_observe_what_the_client_sends_through_the_scope() -> None:
    seen: list[Message] = []
    ended = asyncio.Event()

    def observe(message: Message) -> None:
        seen.append(message)
        if message["type"] == "websocket.disconnect":
            ended.set()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert (await receive())["type"] == "websocket.connect"
        assert on_socket_message(scope, observe)
        await send({"type": "websocket.accept"})
        while (await receive())["type"] != "websocket.disconnect":
            pass

    async with serving(app) as base, connect(f"{base}/observed") as client:
        await client.send("one")
        await client.close(code=1000)
        await asyncio.wait_for(ended.wait(), WAIT)
    # uvicorn queues another disconnect (1005) when the connection is lost; the first is the
    # client's, as the app would receive it
    assert [(m["type"], m.get("text"), m.get("code")) for m in seen][:2] == [
        ("websocket.receive", "one", None),
        ("websocket.disconnect", None, 1000),
    ]


def test_uvicorns_receive_only_gets_and_reads_again_once_the_queue_is_empty() -> None:
    """What ``LeanWebSocketProtocol.receive`` and ``_taken_all`` do instead."""
    [method] = [
        node
        for node in ast.walk(
            ast.parse(textwrap.dedent(inspect.getsource(WebSocketsSansIOProtocol)))
        )
        if isinstance(node, ast.AsyncFunctionDef) and node.name == "receive"
    ]
    assert [ast.unparse(statement) for statement in method.body] == [
        "message = await self.queue.get()",
        "if self.read_paused and self.queue.empty():\n"
        "    self.read_paused = False\n"
        "    self.transport.resume_reading()",
        "return message",
    ]


def test_the_queue_says_when_a_get_took_its_last_item() -> None:
    queue: ReceiveQueue[int] = ReceiveQueue()
    emptied: list[int] = []
    queue.on_emptied = lambda: emptied.append(queue.qsize())
    queue.put_nowait(1)
    queue.put_nowait(2)
    assert queue.get_nowait() == 1
    assert emptied == []
    assert queue.get_nowait() == 2
    assert emptied == [0]


async def test_a_client_sending_while_the_app_is_busy_is_read_again_once_it_caught_up() -> None:
    """uvicorn stops reading the socket while the app has a message waiting; it must read
    again once the app took them all, or the rest never arrives."""
    released = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        await released.wait()
        while (message := await receive())["type"] == "websocket.receive":
            await send({"type": "websocket.send", "text": message["text"]})

    async with serving(app) as base, connect(f"{base}/busy") as client:
        for n in range(3):
            await client.send(f"early {n}")  # sent while the app is busy
        released.set()
        for n in range(3):
            assert await asyncio.wait_for(client.recv(), WAIT) == f"early {n}"
        for n in range(3):
            await client.send(f"late {n}")
            assert await asyncio.wait_for(client.recv(), WAIT) == f"late {n}"
