"""uvicorn's sans-I/O WebSocket protocol, keeping less for each idle connection.

``run_service`` passes ``LeanWebSocketProtocol`` to uvicorn as ``ws=``. It behaves as
``WebSocketsSansIOProtocol`` and differs only in what it keeps (issue 10,
bench/profiles/README-idle-memory.md):

- the handshake's ``Request`` is dropped once the ASGI scope is built from it, and the
  ``Response`` once it is written (with their ``Headers``): uvicorn reads neither afterwards.
  The request's headers are also emptied: ``websockets``' suspended parser generator keeps the
  ``Request`` as a local for the connection's life, though it never reads it again;
- the receive queue is a ``ReceiveQueue``, not an ``asyncio.Queue`` (four deques and an Event,
  about 3 KB even when empty): uvicorn only calls ``put_nowait``, ``get`` and ``empty`` on it;
- ``receive`` is a plain function handing the app the queue's ``get``, which itself resumes
  reading once the app took the last message, as uvicorn's ``receive`` did after its ``get``;
- its receive queue shows each message to the observers layers register in the scope
  (``socket_end.on_socket_message``), so that they need not wrap ``receive``;
- it puts itself in the scope under ``WS_PROTOCOL_SCOPE_KEY`` (for the gateway's direct writes)
  before the app runs, so ``run_service`` needs no ``RecordWebSocketProtocol`` layer, whose
  coroutine frame each connection would keep;
- the ``writable`` flag (paused by the transport's flow control) is a ``LightEvent``, not an
  ``asyncio.Event``: uvicorn, and the gateway's direct writes, only ``set``, ``clear``, ``wait``
  and ask ``is_set``;
- the next keepalive ping waits in the loop's one ``PingSchedule`` (``ping_schedule``), not
  in a loop timer of its own (0.54 KB with uvloop): uvicorn only ``cancel``s ``ping_timer``;
- the server's address (the same for every connection on a listening socket) is one tuple
  shared by all, and the client's host one interned string per host, not new ones per
  connection (small: the HTTP protocol's own copies, made before the upgrade, stay alive);
- what uvicorn's ``__init__`` copies from the server into every connection (``SERVER_WIDE``:
  the config, the app, the loop, the logger, the server's sets, the keepalive settings) is kept
  once, by a descriptor on the class, not in each instance: uvicorn sets 37 attributes per
  connection, and past 29 CPython (3.11) gives the instance a dict of its own (about 1.6 KB)
  instead of values in a table shared by the class (about 0.3 KB). A connection served by
  another server of the same process with other values keeps them for itself.

It also answers a handshake that ``websockets`` refuses while parsing it (a request line or a
header over its limits: ``RequestLineTooLong``, ``HeaderLineTooLong``, ``TooManyHeaders``; or
a request it cannot read). ``websockets`` then queues its own answer and yields no event, and
uvicorn, which writes only what handling an event produces, neither sent it nor closed: the
client waited for minutes (issue 16, case 6). Under ``run_service`` the HTTP protocol
(``uvicorn_request_head.BoundedHttpToolsProtocol``) refuses such heads first with the same
limits, so
this is the backstop; the answer is the same 414 or 431 (400 for an unreadable request).

What uvicorn's code does with these attributes is pinned by ``test_lean_ws.py``, so an upgrade
that starts reading them again fails a test rather than a connection.
"""

import asyncio
import logging
import sys
from asyncio import BaseTransport
from collections.abc import Callable, Coroutine
from http import HTTPStatus
from typing import Any, Generic, TypeVar, cast

from uvicorn._types import ASGIReceiveEvent
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import HeaderLineTooLong, RequestLineTooLong, TooManyHeaders
from websockets.http11 import Request

from switchboard_runtime.patches.light_event import LightEvent
from switchboard_runtime.patches.ping_schedule import ping_schedule
from switchboard_runtime.patches.uvicorn_request_head import (
    headers_too_large,
    refusal,
    request_line_too_long,
)
from switchboard_runtime.patches.uvicorn_ws_protocol import WS_PROTOCOL_SCOPE_KEY
from switchboard_runtime.service.socket_end import SOCKET_MESSAGES_KEY

__all__ = ["SERVER_WIDE", "LeanWebSocketProtocol", "ReceiveQueue", "ServerWide"]

T = TypeVar("T")

log = logging.getLogger(__name__)

_SERVER_ADDRESSES: dict[tuple[str, int | None], tuple[str, int | None]] = {}
"""One tuple per local address the server listens on, shared by its connections."""

_COMPACT_AFTER = 64
"""Taken slots kept before the front of a queue that never runs empty is cut off."""


class ReceiveQueue(Generic[T]):
    """An unbounded FIFO with ``asyncio.Queue``'s ``put_nowait``, ``get`` and ``empty``.

    Small when idle: an empty list and, while someone waits in ``get``, a list of one future.
    Several getters are served in the order they started waiting; a getter cancelled after it
    was woken passes the wake-up on, as ``asyncio.Queue`` does. ``observe`` shows every item
    put from then on to a callback (``socket_end.on_socket_message``).
    """

    __slots__ = ("_head", "_items", "_observers", "_waiters", "on_emptied")

    def __init__(self) -> None:
        self._items: list[T | None] = []
        self._head = 0
        self._waiters: list[asyncio.Future[None]] = []
        self._observers: list[Callable[[T], None]] | None = None
        self.on_emptied: Callable[[], None] | None = None
        """Called when a ``get`` takes the last item."""

    def observe(self, observer: Callable[[T], None]) -> None:
        if self._observers is None:
            self._observers = []
        self._observers.append(observer)

    def empty(self) -> bool:
        return self._head == len(self._items)

    def qsize(self) -> int:
        return len(self._items) - self._head

    def put_nowait(self, item: T) -> None:
        if self._observers is not None:
            for observer in self._observers:
                try:
                    observer(item)
                except Exception:  # the server's callback must go on: the item is queued
                    log.exception("a WebSocket message observer failed")
        self._items.append(item)
        self._wake_next()

    async def get(self) -> T:
        while self.empty():
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                elif not self.empty():
                    self._wake_next()  # it was woken: hand the wake-up to the next getter
                raise
        return self.get_nowait()

    def get_nowait(self) -> T:
        if self.empty():
            raise asyncio.QueueEmpty
        item = self._items[self._head]
        self._items[self._head] = None
        self._head += 1
        if self._head == len(self._items):
            self._items = []  # gives back the array; an empty list allocates none
            self._head = 0
            if self.on_emptied is not None:
                self.on_emptied()
        elif self._head >= _COMPACT_AFTER and self._head * 2 >= len(self._items):
            del self._items[: self._head]  # a queue never empty would otherwise only grow
            self._head = 0
        return item  # type: ignore[return-value]  # only ``None`` slots were already taken

    def _wake_next(self) -> None:
        while self._waiters:
            waiter = self._waiters.pop(0)
            if not waiter.done():
                waiter.set_result(None)
                return


SERVER_WIDE = (
    "config",
    "app",
    "loop",
    "logger",
    "root_path",
    "asgi_version",
    "app_state",
    "connections",
    "tasks",
    "default_headers",
    "close_timeout",
    "ping_interval",
    "ping_timeout",
)
"""What uvicorn's ``__init__`` sets on every connection from the server's config and state, and
nothing else assigns (pinned by ``test_lean_ws.py``)."""


class ServerWide:
    """A data descriptor: one value for every instance that sets the same object; an instance
    that sets another keeps its own in ``_own_values`` (another server in the same process)."""

    __slots__ = ("_has_value", "_name", "_value")

    def __init__(self, name: str) -> None:
        self._name = name
        self._value: Any = None
        self._has_value = False

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        own: dict[str, Any] | None = instance._own_values
        if own is not None and self._name in own:
            return own[self._name]
        if not self._has_value:
            raise AttributeError(self._name)
        return self._value

    def __set__(self, instance: Any, value: Any) -> None:
        if not self._has_value:
            self._value, self._has_value = value, True
        elif value is not self._value:  # identity: equal mutable state is not the same state
            if instance._own_values is None:
                instance._own_values = {}
            instance._own_values[self._name] = value
        elif instance._own_values is not None:
            instance._own_values.pop(self._name, None)


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    _own_values: dict[str, Any] | None = None
    """Server-wide values that differ from the first server's (see ``ServerWide``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        queue: ReceiveQueue[ASGIReceiveEvent] = ReceiveQueue()
        queue.on_emptied = self._taken_all
        self.queue = queue  # type: ignore[assignment]  # the three methods uvicorn uses
        writable = LightEvent()
        if self.writable.is_set():
            writable.set()
        self.writable = writable  # type: ignore[assignment]  # the four methods used

    def connection_made(self, transport: BaseTransport) -> None:
        super().connection_made(transport)
        server = self.server
        if server is not None:
            self.server = _SERVER_ADDRESSES.setdefault(server, server)
        client = self.client
        if client is not None:
            self.client = (sys.intern(client[0]), client[1])

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        exc = self.conn.handshake_exc
        if exc is not None and not self.handshake_initiated and not self.close_sent:
            self.refuse_unparsed_handshake(exc)

    def refuse_unparsed_handshake(self, exc: Exception) -> None:
        """Answer and close a handshake ``websockets`` refused before making it a ``Request``."""
        self.conn.data_to_send()  # its own plain-text answer (or none), replaced by ours
        if isinstance(exc, RequestLineTooLong):
            status, error = request_line_too_long()
        elif isinstance(exc, HeaderLineTooLong | TooManyHeaders):
            status, error = headers_too_large()
        else:
            status, error = HTTPStatus.BAD_REQUEST, "invalid HTTP request"
        self.logger.info("Refused a WebSocket handshake: %d %s (%s)", status.value, error, exc)
        self.handshake_complete = True  # as uvicorn marks a handshake the app refused
        self.close_sent = True
        self.transport.write(refusal(status, error, self.default_headers))
        self.transport.close()

    def receive(self) -> Coroutine[Any, Any, ASGIReceiveEvent]:
        """uvicorn's ``receive`` as a plain function returning the queue's ``get``: its own
        coroutine waited with the app's for as long as the socket idled (0.2 KB). What it did
        after the ``get``, reading again once the app took the last message, is
        ``_taken_all``, called by the queue (pinned by ``test_lean_ws.py``)."""
        return self.queue.get()

    def _taken_all(self) -> None:
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        # The scope holds what the app needs of the request; uvicorn never reads it again, and
        # neither does ``ServerProtocol.parse``, whose frame still refers to it.
        del self.request
        event.headers.clear()
        if not self.close_sent:  # accepted: the scope is built and ``run_asgi`` not yet started
            scope = cast(dict[str, Any], self.scope)
            scope[WS_PROTOCOL_SCOPE_KEY] = self
            scope[SOCKET_MESSAGES_KEY] = self.queue  # for ``on_socket_message``

    def schedule_ping(self) -> None:
        # uvicorn's delay (the interval less the last round trip), on the shared schedule
        assert self.ping_interval is not None
        delay = max(0.0, self.ping_interval - self.last_ping_rtt)
        entry = ping_schedule(self.loop).call_later(delay, self.send_keepalive_ping)
        self.ping_timer = entry  # type: ignore[assignment]  # ``cancel`` is all uvicorn uses

    def start_keepalive(self) -> None:
        # Called once, by ``send`` right after it wrote the accepted handshake's response: the
        # last time uvicorn reads ``self.response``.
        del self.response
        super().start_keepalive()


for _name in SERVER_WIDE:
    setattr(LeanWebSocketProtocol, _name, ServerWide(_name))
