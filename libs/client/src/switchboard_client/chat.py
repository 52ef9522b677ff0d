"""A chat connection that outlives its sockets: it reconnects with backoff and jitter, joins its
rooms again with ``since`` (the last seq shown), sends every unacknowledged message again with
its ``clientMsgId`` and shows each (room, seq) once."""

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote, urlencode

from switchboard_protocol import CloseCode, parse_hint

from switchboard_client.backoff import Backoff
from switchboard_client.cursors import RoomCursors
from switchboard_client.errors import (
    ConnectFailedError,
    FatalConnectionError,
    TransportClosedError,
)
from switchboard_client.events import (
    Ack,
    Change,
    ChatEvent,
    ChatMessage,
    Closed,
    ErrorFrame,
    Joined,
    ReadMark,
    parse_frame,
)
from switchboard_client.outbox import Outbox, PendingSend
from switchboard_client.transport import Connector, WireConnection, websocket_connector

__all__ = ["FATAL_CLOSE_CODES", "ChatConnection"]

FATAL_CLOSE_CODES = frozenset(code for code in CloseCode if code.final)
"""Close codes after which reconnecting would not help this client, which cannot fix what it
sends nor get a fresh token (``switchboard_protocol.CloseCode``: 1007, 1008, 1009). A 1000 the
client did not ask for is reconnected: nothing may be lost to a server's mistake."""
RETRYABLE_ERRORS = frozenset({"unavailable", "rate_limited", "internal"})


class ChatConnection:
    """Chat over ``/ws`` (many rooms) or, with ``room``, over ``/chat/{room}`` (one room).

    ``base_url`` is the gateway's ``ws://host:port``, or a callable giving it (tried anew on each
    connect: a list of gateways behind it moves the client to another one).
    """

    def __init__(
        self,
        base_url: str | Callable[[], str],
        user_id: str | None = None,
        rooms: Iterable[str] = (),
        *,
        room: str | None = None,
        token: str | None = None,
        connector: Connector = websocket_connector,
        backoff: Backoff | None = None,
        restart_jitter_seconds: float = 1.0,
        ack_timeout_seconds: float = 10.0,
        cursors: RoomCursors | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._base = base_url if callable(base_url) else (lambda: base_url)
        self.user_id = user_id
        self._token = token
        self._single_room = room
        self.rooms: list[str] = [room] if room is not None else list(dict.fromkeys(rooms))
        self._connector = connector
        self.backoff = backoff or Backoff()
        self._restart_jitter = restart_jitter_seconds
        self._ack_timeout = ack_timeout_seconds
        self._sleep = sleep
        self.cursors = cursors or RoomCursors()
        self.outbox = Outbox()
        self.messages: list[ChatMessage] = []
        """Every message shown, once each, in the order shown."""
        self.changes: list[Change] = []
        """Every edit, deletion and reaction received, once each, in the room's order."""
        self.refused: dict[tuple[str, str], ErrorFrame] = {}
        """Edits, deletions and reactions the server refused for good (``forbidden``,
        ``not_found``, …), by (room, clientMsgId): no longer sent."""
        self.acks: dict[tuple[str, str], Ack] = {}
        self.read_marks: dict[tuple[str, str], ReadMark] = {}
        """The greatest read mark seen per (room, user): the others' and one's own."""
        self._marks_wanted: dict[str, int] = {}  # room -> mark sent, not yet answered
        self._marked_at: dict[str, float] = {}
        self.duplicates_dropped = 0
        self.connects = 0
        self.close_codes: list[int | None] = []
        self.connected = asyncio.Event()
        self.failed: BaseException | None = None
        self._events: asyncio.Queue[ChatEvent] = asyncio.Queue()
        self._acked = asyncio.Condition()
        self._sent_at: dict[tuple[str, str], float] = {}
        self._attempts: dict[tuple[str, str], int] = {}  # frames made per unacked send
        self._conn: WireConnection | None = None
        self._runner: asyncio.Task[None] | None = None
        self._resender: asyncio.Task[None] | None = None
        self._closing = False
        self._sends: set[asyncio.Task[None]] = set()

    # -- life cycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def start(self) -> None:
        if self._runner is None:
            self._runner = asyncio.create_task(self._run())
            self._resender = asyncio.create_task(self._resend_overdue())

    async def close(self) -> None:
        self._closing = True
        conn = self._conn
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()
        for task in (self._runner, self._resender):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self.connected.clear()

    # -- what applications call --------------------------------------------------------------

    def join(self, room: str) -> None:
        """Be a member of ``room`` from now on, across reconnects (``/ws`` only)."""
        if self._single_room is not None:
            if room != self._single_room:
                raise ValueError("a /chat/{room} connection has exactly one room")
            return
        if room not in self.rooms:
            self.rooms.append(room)
            self._spawn_send(self._join_frame(room))

    def send(self, room: str, content: str, client_msg_id: str | None = None) -> str:
        """Queue a message; it is sent now if connected, else on connect, and again until acked.
        Returns its ``clientMsgId``."""
        self.join(room)
        pending = self.outbox.add(room, content, client_msg_id)
        self._spawn_send(self._chat_frame(pending), key=(room, pending.client_msg_id))
        return pending.client_msg_id

    def edit(
        self, room: str, message_id: str, content: str, client_msg_id: str | None = None
    ) -> str:
        """Queue an edit of ``message_id``: sent like a message (again until acked); returns
        its ``clientMsgId``."""
        return self._change("edit", room, message_id, content, client_msg_id)

    def delete(self, room: str, message_id: str, client_msg_id: str | None = None) -> str:
        """Queue a deletion of ``message_id``, as ``edit`` does."""
        return self._change("delete", room, message_id, "", client_msg_id)

    def react(
        self, room: str, message_id: str, emoji: str, client_msg_id: str | None = None
    ) -> str:
        """Queue a reaction ``emoji`` on ``message_id``, as ``edit`` does."""
        return self._change("react", room, message_id, emoji, client_msg_id)

    def unreact(
        self, room: str, message_id: str, emoji: str, client_msg_id: str | None = None
    ) -> str:
        """Queue taking the reaction ``emoji`` on ``message_id`` back, as ``edit`` does."""
        return self._change("unreact", room, message_id, emoji, client_msg_id)

    def _change(
        self, kind: str, room: str, message_id: str, content: str, client_msg_id: str | None
    ) -> str:
        self.join(room)
        pending = self.outbox.add(room, content, client_msg_id, kind=kind, message_id=message_id)
        self._spawn_send(self._chat_frame(pending), key=(room, pending.client_msg_id))
        return pending.client_msg_id

    def mark_read(self, room: str, seq: int) -> None:
        """Mark ``room`` read up to ``seq``: sent now if connected, else on connect, and again
        until the server answers with a mark at least as high (marks never move back, so a
        repeat is harmless)."""
        self.join(room)
        self._marks_wanted[room] = max(seq, self._marks_wanted.get(room, 0))
        self._marked_at[room] = time.monotonic()
        self._spawn_send(self._read_frame(room, self._marks_wanted[room]))

    async def wait_read(self, room: str, user_id: str, seq: int, timeout: float = 30.0) -> ReadMark:
        """The first read mark of ``user_id`` in ``room`` at ``seq`` or above."""
        async with asyncio.timeout(timeout), self._acked:
            while True:
                mark = self.read_marks.get((room, user_id))
                if mark is not None and mark.seq >= seq:
                    return mark
                await self._acked.wait()

    async def wait_acked(self, room: str, client_msg_id: str, timeout: float = 30.0) -> Ack:
        async with asyncio.timeout(timeout), self._acked:
            while (room, client_msg_id) not in self.acks:
                await self._acked.wait()
            return self.acks[(room, client_msg_id)]

    async def wait_all_acked(self, timeout: float = 60.0) -> None:
        async with asyncio.timeout(timeout), self._acked:
            while len(self.outbox):
                await self._acked.wait()

    async def events(self) -> AsyncIterator[ChatEvent]:
        """Typed events as they come: messages (each once), acks, replays, presence, closes."""
        while True:
            yield await self._events.get()

    # -- the connection loop -----------------------------------------------------------------

    def url(self) -> str:
        query: dict[str, str] = {}
        if self.user_id is not None:
            query["userId"] = self.user_id
        if self._token is not None:
            query["token"] = self._token
        base = self._base().rstrip("/")
        if self._single_room is not None:
            since = self.cursors.since(self._single_room)
            if since is not None:
                query["since"] = str(since)
            path = f"/chat/{quote(self._single_room, safe='')}"
        else:
            path = "/ws"
        return f"{base}{path}?{urlencode(query)}" if query else f"{base}{path}"

    async def _run(self) -> None:
        try:
            while not self._closing:
                delay = await self._connect_once()
                if delay is None:
                    return
                await self._sleep(delay)
        except FatalConnectionError as fatal:
            self.failed = fatal
            await self._events.put(Closed(None, final=True))

    async def _connect_once(self) -> float | None:
        """One connection from open to close; the delay before the next, None to stop."""
        try:
            conn = await self._connector(self.url())
        except ConnectFailedError as failed:
            if failed.status is not None and 400 <= failed.status < 500 and failed.status != 429:
                raise FatalConnectionError(str(failed)) from failed
            return self.backoff.next_delay()
        self._conn = conn
        self.connects += 1
        code: int | None = None
        reason = ""
        try:
            await self._resume(conn)
            self.connected.set()
            while True:
                raw = await conn.recv()
                self.backoff.reset()  # the server talks to us: this connection works
                await self._handle(raw)
        except TransportClosedError as closed:
            code, reason = closed.code, closed.reason
        finally:
            self._conn = None
            self.connected.clear()
        self.close_codes.append(code)
        final = code in FATAL_CLOSE_CODES
        await self._events.put(Closed(code, final=final or self._closing))
        if self._closing:
            return None
        if final:
            raise FatalConnectionError(f"the server closed the connection with {code}")
        if code == CloseCode.SERVICE_RESTART:
            # A draining gateway says when to come back (jittered by it); else jitter here.
            hint_ms = parse_hint(reason)
            if hint_ms is not None:
                return min(hint_ms / 1000, self.backoff.cap)
            return self.backoff.jitter(self._restart_jitter)
        return self.backoff.next_delay()

    async def _resume(self, conn: WireConnection) -> None:
        """On connect: join the rooms again (with ``since``), send what is unacked again."""
        if self._single_room is None:
            for room in self.rooms:
                await conn.send(json.dumps(self._join_frame(room)))
        for pending in self.outbox.pending():
            await self._send_chat(conn, pending)
        for room, seq in list(self._marks_wanted.items()):
            self._marked_at[room] = time.monotonic()
            await conn.send(json.dumps(self._read_frame(room, seq)))

    async def _handle(self, raw: str) -> None:
        try:
            frame = json.loads(raw)
        except ValueError:
            return
        if not isinstance(frame, dict):
            return
        event = parse_frame(frame)
        if isinstance(event, ChatMessage | Change):
            if not self._show(event):
                return
        elif isinstance(event, Ack):
            await self._ack(event)
        elif isinstance(event, Joined):
            self.cursors.start(event.room, event.seq)
        elif isinstance(event, ReadMark):
            await self._read_mark(event)
        elif isinstance(event, ErrorFrame) and event.code not in RETRYABLE_ERRORS:
            await self._refused(event)
        elif isinstance(event, ErrorFrame):
            # Sent again by the overdue check: forget when it was sent so that it is due soon.
            for pending in self.outbox.pending():
                if pending.client_msg_id == event.ref:
                    self._sent_at[(pending.room, pending.client_msg_id)] = 0.0
        await self._events.put(event)

    def _show(self, event: ChatMessage | Change) -> bool:
        """Record a room event once; False when it was shown already (a replay overlapping)."""
        if not self.cursors.accept(event.room, event.seq):
            self.duplicates_dropped += 1
            return False
        if isinstance(event, Change):
            self.changes.append(event)
        else:
            self.messages.append(event)
        return True

    async def _ack(self, ack: Ack) -> None:
        key = (ack.room, ack.client_msg_id)
        self.outbox.acked(*key)
        self._sent_at.pop(key, None)
        self._attempts.pop(key, None)
        async with self._acked:
            self.acks.setdefault(key, ack)
            self._acked.notify_all()

    async def _read_mark(self, mark: ReadMark) -> None:
        key = (mark.room, mark.user_id)
        known = self.read_marks.get(key)
        if known is None or mark.seq >= known.seq:
            async with self._acked:
                self.read_marks[key] = mark
                self._acked.notify_all()
        wanted = self._marks_wanted.get(mark.room)
        if mark.user_id == self.user_id and wanted is not None and mark.seq >= wanted:
            del self._marks_wanted[mark.room]
            self._marked_at.pop(mark.room, None)

    async def _refused(self, error: ErrorFrame) -> None:
        """An edit, a deletion or a reaction refused for good leaves the outbox (a chat stays:
        the server refuses a chat only for what the application must fix)."""
        for pending in self.outbox.pending():
            if pending.client_msg_id == error.ref and pending.kind != "chat":
                key = (pending.room, pending.client_msg_id)
                self.outbox.acked(*key)
                self._sent_at.pop(key, None)
                self._attempts.pop(key, None)
                async with self._acked:
                    self.refused[key] = error
                    self._acked.notify_all()

    # -- sending ------------------------------------------------------------------------------

    def _join_frame(self, room: str) -> dict[str, Any]:
        payload: dict[str, Any] = {"room": room}
        since = self.cursors.since(room)
        if since is not None:
            payload["since"] = since
        return {"type": "join", "payload": payload}

    def _read_frame(self, room: str, seq: int) -> dict[str, Any]:
        payload: dict[str, Any] = {"seq": seq}
        if self._single_room is None:
            payload["room"] = room
        return {"type": "read", "payload": payload}

    def _chat_frame(self, pending: PendingSend) -> dict[str, Any]:
        """The frame of one attempt: ``attempt`` 1 the first time (the server then skips its
        look-up for an earlier copy), counted up on every resend."""
        key = (pending.room, pending.client_msg_id)
        attempt = self._attempts[key] = self._attempts.get(key, 0) + 1
        payload: dict[str, Any] = {"clientMsgId": pending.client_msg_id, "attempt": attempt}
        if pending.kind in ("react", "unreact"):
            payload["emoji"] = pending.content
        elif pending.kind != "delete":
            payload["content"] = pending.content
        if pending.message_id is not None:
            payload["messageId"] = pending.message_id
        if self._single_room is None:
            payload["room"] = pending.room
        return {"type": pending.kind, "payload": payload}

    async def _send_chat(self, conn: WireConnection, pending: PendingSend) -> None:
        self._sent_at[(pending.room, pending.client_msg_id)] = time.monotonic()
        await conn.send(json.dumps(self._chat_frame(pending)))

    def _spawn_send(self, frame: dict[str, Any], key: tuple[str, str] | None = None) -> None:
        conn = self._conn
        if conn is None or not self.connected.is_set():
            return  # sent on the next connect
        if key is not None:
            self._sent_at[key] = time.monotonic()
        task = asyncio.get_running_loop().create_task(self._quiet_send(conn, json.dumps(frame)))
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    @staticmethod
    async def _quiet_send(conn: WireConnection, text: str) -> None:
        with contextlib.suppress(TransportClosedError, ConnectFailedError):
            await conn.send(text)

    async def _resend_overdue(self) -> None:
        """A send not acked within the ack timeout goes again (same clientMsgId) while connected."""
        interval = max(0.05, self._ack_timeout / 4)
        while True:
            await asyncio.sleep(interval)
            conn = self._conn
            if conn is None or not self.connected.is_set():
                continue
            now = time.monotonic()
            for pending in self.outbox.pending():
                sent = self._sent_at.get((pending.room, pending.client_msg_id), 0.0)
                if now - sent >= self._ack_timeout:
                    with contextlib.suppress(TransportClosedError, ConnectFailedError):
                        await self._send_chat(conn, pending)
            # a snapshot: an answer read while a send waits removes its room from the dict
            for room, seq in list(self._marks_wanted.items()):
                if now - self._marked_at.get(room, 0.0) >= self._ack_timeout:
                    self._marked_at[room] = now
                    with contextlib.suppress(TransportClosedError, ConnectFailedError):
                        await conn.send(json.dumps(self._read_frame(room, seq)))
