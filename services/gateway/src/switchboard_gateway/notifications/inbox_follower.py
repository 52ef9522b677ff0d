"""One subscriber's view of a user's inbox: what it missed first, in order, then live entries,
every cursor exactly once. No sockets here: it is fed live events and reads an ``InboxLog``.

A cursor is the entry's position in the NOTIFY stream: increasing per user, not consecutive
(other users' entries lie between), so a cursor says nothing about what came before it. The
subscriber attaches to the user's live events *before* ``begin`` reads the head, so that
nothing published in between can fall through; what the client missed up to that head (the
target) is read from the log first, in pages. Live entries wait in a bounded queue meanwhile;
each one is then either already given (cursor at or below the last one given: dropped) or new
(given), in arrival order. A live entry lost on its way cannot be seen from the cursors: it is
found from the events that can lose one. After a bus reconnect (``resync``), and when a
subscriber falls too far behind and drops its queue (memory stays bounded), the log is read
again from the last cursor given up to the user's newest. From the disconnect on (``hold``)
live events wait for that read: any arriving before it is newer than those lost. When the log
no longer holds what was asked for (``Gone``), the subscriber is told once (``Reset``) and goes
on from the newest cursor.

An SSE stream also gives a ``sink`` (``write_through``): while its producer waits in ``next``
with nothing queued and nothing missed, a live entry newer than the last one given is handed to
the sink as it arrives (the SSE bytes written straight to the socket), without waking the
producer; anything else, or an event the sink cannot take at once, goes the queued way above.
Whether the sink may take events is decided when the producer starts waiting and withdrawn by
whatever queues (``_open``): a broadcast hands one event to each of 10,000 streams in a row, and
each attribute read there is a stream's object fetched from memory. A broadcast's member gets
its event as the shared entry and their id (``push_member``): its bytes are built only for the
sink; a member object only when it is queued.
"""

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Protocol

from switchboard_gateway.notifications.events import (
    AudienceEntry,
    Entry,
    InboxEvent,
    Reset,
    Unread,
)
from switchboard_gateway.transport.sse import KEEPALIVE_KIND

__all__ = ["PAGE_SIZE", "Gone", "InboxFollower", "InboxLog", "Sink"]

PAGE_SIZE = 100

Sink = Callable[[bytes, str], bool]
"""Takes a live event's SSE bytes, with its kind, at once (True) or not at all (False); never
waits."""


class Gone:
    """The log no longer holds the entries after the cursor asked for (past retention)."""


class InboxLog(Protocol):
    async def head(self, user_id: str) -> int:
        """The user's newest cursor (0 when the inbox is empty)."""
        ...

    async def read(self, user_id: str, after: int, limit: int) -> list[Entry] | Gone:
        """Up to ``limit`` entries with a cursor above ``after``, oldest first. Cursors are not
        consecutive: the first one may be anywhere above ``after``. ``Gone``: the log no longer
        holds entries after ``after``."""
        ...


class InboxFollower:
    __slots__ = (
        "_arrived",
        "_behind",
        "_due",
        "_held",
        "_interrupted",
        "_log",
        "_max_pending",
        "_open",
        "_pending",
        "_sink",
        "_target",
        "_user_id",
        "last",
    )

    def __init__(self, log: InboxLog, user_id: str, max_pending: int = 1000) -> None:
        self._log = log
        self._user_id = user_id
        self._max_pending = max_pending
        self._pending: deque[Entry | Unread] = deque()
        self._arrived = asyncio.Event()
        self._behind = False
        self._held = False
        """The bus is disconnected: live events wait until the log was read again (``resync``)."""
        self._interrupted = False
        self._due = False
        """The wait's time is up (its timer, or ``ping``)."""
        self.last = 0  # the newest cursor this subscriber has been given (or told to skip to)
        self._target = 0  # the log is read up to here (the head) before live entries
        self._sink: Sink | None = None
        self._open = False
        """The sink may take live events now: the producer waits in ``_wait`` (between writes)
        with nothing queued, missed or held, and the log read up to its target. Set when the
        wait starts; cleared when it ends and by whatever queues an event meanwhile."""

    def write_through(self, sink: Sink | None) -> None:
        """Hand live events newer than the last one given to ``sink`` while ``next`` waits
        (None: stop)."""
        self._sink = sink
        if sink is None:
            self._open = False

    @property
    def pending(self) -> int:
        """Live events waiting (bounded by ``max_pending``)."""
        return len(self._pending)

    def push(self, event: Entry | Unread) -> None:
        """A live event for this user. Never waits."""
        if self._open and self._through(event):
            return
        self._queue(event)

    def push_member(self, shared: AudienceEntry, user_id: str) -> None:
        """A broadcast to an audience of this user's: ``push`` of the user's copy, whose bytes
        (or object, when it is queued) are made only as they are needed."""
        if self._open:
            cursor = shared.cursor
            if cursor <= self.last:
                return  # already given
            sink = self._sink
            assert sink is not None
            if sink(shared.sse_bytes_for(user_id), shared.kind):
                self.last = cursor
                return
        self._queue(shared.for_member(user_id))

    def _queue(self, event: Entry | Unread) -> None:
        self._open = False  # what arrives next waits behind this one
        if len(self._pending) >= self._max_pending:
            self._pending.clear()
            self._behind = True  # caught up from the log on the next call
        else:
            self._pending.append(event)
        self._arrived.set()

    def _through(self, event: Entry | Unread) -> bool:
        """``event`` given to the sink, or dropped as already given: the producer is not
        woken for it."""
        sink = self._sink
        assert sink is not None
        if isinstance(event, Entry):
            if event.cursor <= self.last:
                return True  # already given
            if not sink(event.sse_bytes, event.kind):
                return False
            self.last = event.cursor
            return True
        return sink(event.sse_bytes, event.kind)

    def hold(self) -> None:
        """The bus disconnected: live events may be lost until it reconnects. Those that come
        meanwhile (after the resubscription, before ``resync``) are newer than the lost ones, so
        they wait: given first, they would put the lost ones behind the subscriber's cursor."""
        self._held = True
        self._open = False

    def resync(self) -> None:
        """Live events may have been lost (the bus reconnected): check the log for the rest,
        from the last cursor given to the newest."""
        self._held = False
        self._behind = True
        self._open = False
        self._arrived.set()

    def interrupt(self) -> None:
        """Make a waiting ``next`` (and every later one) return at once with nothing: the
        stream is ending (the gateway drains it)."""
        self._interrupted = True
        self._open = False
        self._arrived.set()

    async def begin(self, after: int | None) -> Reset | None:
        """Start after ``after`` (None: after the newest entry): the log is read from there up to
        the newest entry before live ones are given. A cursor the inbox never reached (above
        the newest) gives ``Reset``."""
        head = await self._log.head(self._user_id)
        if after is None or after > head or after < 0:
            self.last = self._target = head
            if after is None:
                return None
            return Reset(head, f"cursor {after} is unknown; the newest is {head}")
        self.last, self._target = after, head
        return None

    def ping(self, chunk: bytes) -> None:
        """The stream's keepalive (``chunk``) is due (``keepalive.KeepaliveSweep``). While the
        producer waits with nothing to give, the sink writes it, and the producer sleeps on;
        otherwise a waiting producer's ``next`` returns nothing, as at a timeout, and it writes
        one itself (waiting, as for any write, for a client that reads slowly)."""
        sink = self._sink
        if self._open and sink is not None and sink(chunk, KEEPALIVE_KIND):
            return
        self._time_up()

    def _time_up(self) -> None:
        self._due = True
        self._arrived.set()

    async def next(self, timeout: float | None) -> list[InboxEvent]:
        """The next events to send, in order; empty when nothing happened within ``timeout``
        (None: no timer; until ``ping`` or ``interrupt``)."""
        while True:
            if self._target > self.last:
                page = await self._fill_page()
                if page:
                    return page
                continue
            if self._behind:
                self._behind = False
                self._target = max(self._target, await self._log.head(self._user_id))
                continue
            if self._held or not self._pending:
                if self._interrupted:
                    return []
                self._arrived.clear()
                if not await self._wait(timeout):
                    return []
                continue
            ready = self._take_live()
            if ready:
                return ready

    async def _wait(self, timeout: float | None) -> bool:
        """Until something arrives (True) or the time is up (False): ``timeout`` passes, or
        ``ping`` (with no ``timeout``).

        A timer that sets the event, not ``wait_for``: a gateway with 10,000 streams woke each
        of them per broadcast, and ``wait_for``'s task per wake (with the drain watch beside it)
        cost more than writing the event.
        """
        self._due = False
        loop = asyncio.get_running_loop()
        timer = None if timeout is None else loop.call_later(timeout, self._time_up)
        self._open = self._sink is not None and not (
            self._pending
            or self._behind
            or self._held
            or self._interrupted
            or self._target > self.last  # a page of the log is still to be read first
        )
        try:
            await self._arrived.wait()
        finally:
            self._open = False
            if timer is not None:
                timer.cancel()
        timed_out = self._due
        if self._held:
            return not timed_out or self._behind or self._interrupted
        return not timed_out or bool(self._pending) or self._behind or self._interrupted

    def _take_live(self) -> list[InboxEvent]:
        ready: list[InboxEvent] = []
        while self._pending:
            event = self._pending.popleft()
            if isinstance(event, Unread):
                ready.append(event)
            elif event.cursor > self.last:
                ready.append(event)
                self.last = event.cursor
            # else: already given (it was part of what was read from the log)
        return ready

    async def _fill_page(self) -> list[InboxEvent]:
        """The next page of the log after ``last``, up to the target."""
        page = await self._log.read(self._user_id, self.last, PAGE_SIZE)
        if isinstance(page, Gone):
            head = await self._log.head(self._user_id)
            after = self.last
            self.last = self._target = max(head, self._target)
            return [Reset(self.last, f"notifications after {after} are past retention")]
        ready: list[InboxEvent] = []
        for entry in page:
            if entry.cursor <= self.last:
                continue  # not after ``last``: the log's contract says never; ignore it
            if entry.cursor > self._target:
                break  # newer than the head read: it comes live
            ready.append(entry)
            self.last = entry.cursor
        if not ready:
            # Nothing more up to the target: the log's next entry, if any, is newer than it.
            self.last = self._target
        return ready
