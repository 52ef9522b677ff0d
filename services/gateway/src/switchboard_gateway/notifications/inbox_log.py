"""A user's inbox as the gateway reads it to catch up: recent entries from the NOTIFY stream,
older ones from PostgreSQL (through persistence). Which one answered is invisible to callers.

An entry's cursor is its stream sequence (``at_position``; an entry stored before cursors became
positions keeps the cursor it carries, which is below any later position). So the entries after
cursor ``c`` are read from the stream from sequence ``c + 1`` on, in batches (direct gets,
``next_messages``): no search. They are the user's own subject's and those of the audiences
the user belonged to (``Membership``), kept only inside the user's intervals, merged by
position. An old entry may carry a cursor below its sequence; one at or below ``c`` is
skipped. What lies before the oldest entries the stream holds was kept by PostgreSQL, which
answers the same merge.
"""

import heapq
import logging
from collections.abc import Awaitable, Callable

from nats.js.api import RawStreamMsg
from switchboard_contracts import endpoints, streams, subjects
from switchboard_contracts.notify import (
    LastCursorRequest,
    Membership,
    Notification,
    ReplayReply,
    ReplayRequest,
    at_position,
)
from switchboard_runtime import Bus, UnavailableError
from switchboard_runtime.messaging.sequencer import last_message
from switchboard_runtime.messaging.stream_pipeline import StoredMessage, next_messages

from switchboard_gateway.notifications.events import Entry
from switchboard_gateway.notifications.inbox_follower import Gone

__all__ = ["InboxUnavailableError", "Memberships", "StoredInbox"]

log = logging.getLogger(__name__)


class InboxUnavailableError(UnavailableError):
    """Neither the stream nor persistence could answer; the client should retry."""


Memberships = Callable[[str], Awaitable[list[Membership]]]
"""A user's audiences, past and present (persistence's ``notify.cmd.memberships``)."""


class StoredInbox:
    def __init__(self, bus: Bus, timeout: float, memberships: Memberships | None = None) -> None:
        """Without ``memberships`` a user has no audience: their own entries only."""
        self._bus = bus
        self._timeout = timeout
        self._memberships = memberships

    async def head(self, user_id: str) -> int:
        """The newest position: the stream's newest entry, whoever's (every cursor a client of
        any user can hold is at or below it); when the stream holds nothing, the user's newest
        stored cursor."""
        last = await last_message(self._bus.js, streams.NOTIFY.name, subjects.NOTIFY_STORED)
        if last is not None:
            return max(_positioned(last).cursor, last.seq or 0)
        reply = await self._bus.ask(
            endpoints.PERSISTENCE_NOTIFY_LAST_CURSOR,
            LastCursorRequest(user_id=user_id),
            timeout=self._timeout,
        )
        if reply.error is not None:
            raise InboxUnavailableError(f"the inbox of {user_id} cannot be read now; retry")
        return reply.cursor

    async def read(self, user_id: str, after: int, limit: int) -> list[Entry] | Gone:
        """Up to ``limit`` entries with a cursor above ``after``, oldest first."""
        memberships = [
            m
            for m in await self._read_memberships(user_id)
            if m.to_cursor is None or m.to_cursor > after
        ]
        oldest = await self._oldest(user_id, bool(memberships))
        if oldest is None or after < oldest:
            # Perhaps entries the stream no longer holds. Positions are sparse, so ``after``
            # below the oldest is normal: persistence finding none is no loss.
            stored = await self._read_stored(user_id, after, limit, oldest)
            if stored or oldest is None:
                return stored
        notifications = await self._read_stream(user_id, after, limit, memberships)
        if not notifications:
            return []
        read_upto, read_cursors = await self._read_state(
            user_id, after, limit, notifications[-1].cursor
        )
        return [
            Entry(n, read=n.cursor <= read_upto or n.cursor in read_cursors) for n in notifications
        ]

    async def _read_memberships(self, user_id: str) -> list[Membership]:
        if self._memberships is None:
            return []
        try:
            return await self._memberships(user_id)
        except UnavailableError as err:
            raise InboxUnavailableError(f"the inbox of {user_id} cannot be read now") from err

    async def _oldest(self, user_id: str, with_audiences: bool) -> int | None:
        """The lowest position the stream holds of the user's inbox (None: nothing): below it,
        PostgreSQL. With audiences, the oldest audience entry of any audience bounds it."""
        bounds: list[int] = []
        mine = await self._stream_batch(subjects.notify_user(user_id), 1, 1)
        if mine:
            bounds.append(_positioned(mine[0]).cursor)
        if with_audiences:
            theirs = await self._stream_batch(subjects.NOTIFY_AUDIENCE_ALL, 1, 1)
            if theirs:
                bounds.append(theirs[0].seq)
        return min(bounds, default=None)

    async def _read_stream(
        self, user_id: str, after: int, limit: int, memberships: list[Membership]
    ) -> list[Notification]:
        """The user's entries in the stream with a cursor above ``after``, at most ``limit``:
        their own, and their audiences' inside their intervals, merged by position."""
        own = await self._read_subject(subjects.notify_user(user_id), after, limit, lambda n: n)
        found = [own]
        for audience in sorted({m.audience for m in memberships}):
            intervals = [m for m in memberships if m.audience == audience]

            def mine(
                n: Notification, intervals: list[Membership] = intervals
            ) -> Notification | None:
                if any(m.covers(n.cursor) for m in intervals):
                    return n.for_member(user_id)
                return None

            found.append(
                await self._read_subject(subjects.notify_audience(audience), after, limit, mine)
            )
        return list(heapq.merge(*found, key=lambda n: n.cursor))[:limit]

    async def _read_subject(
        self,
        subject: str,
        after: int,
        limit: int,
        keep: Callable[[Notification], Notification | None],
    ) -> list[Notification]:
        """Up to ``limit`` entries on ``subject`` with a cursor above ``after`` that ``keep``
        keeps (as it returns them), oldest first."""
        found: list[Notification] = []
        start = after + 1
        while len(found) < limit:
            want = limit - len(found)
            batch = await self._stream_batch(subject, start, want)
            for message in batch:
                entry = _positioned(message)
                if entry.cursor > after and (kept := keep(entry)) is not None:
                    found.append(kept)
            if len(batch) < want:
                break  # the stream has no more
            start = batch[-1].seq + 1
        return found[:limit]

    async def _read_stored(
        self, user_id: str, after: int, limit: int, stream_from: int | None
    ) -> list[Entry]:
        """Entries older than the stream holds (cursors below ``stream_from``), from
        PostgreSQL."""
        reply = await self._replay(
            ReplayRequest(user_id=user_id, after=after, limit=limit, before=stream_from)
        )
        if reply is None:
            raise InboxUnavailableError(f"older notifications of {user_id} cannot be read now")
        read = set(reply.read_cursors)
        return [
            Entry(n, read=n.cursor <= reply.read_upto or n.cursor in read)
            for n in reply.notifications
            if n.cursor > after and (stream_from is None or n.cursor < stream_from)
        ]

    async def _read_state(
        self, user_id: str, after: int, limit: int, upto: int
    ) -> tuple[int, set[int]]:
        """The read state of the cursors ``(after, upto]`` (a page read from the stream)."""
        reply = await self._replay(
            ReplayRequest(user_id=user_id, after=after, limit=limit, upto=upto, states_only=True)
        )
        if reply is None:
            # The entries themselves are here; without persistence they read as unread.
            log.warning("read state unavailable; replaying notifications as unread")
            return 0, set()
        return reply.read_upto, set(reply.read_cursors)

    async def _replay(self, request: ReplayRequest) -> ReplayReply | None:
        reply = await self._bus.ask(
            endpoints.PERSISTENCE_NOTIFY_REPLAY, request, timeout=self._timeout
        )
        if reply.error is not None:
            return None
        return reply

    async def _stream_batch(self, subject: str, start: int, count: int) -> list[StoredMessage]:
        """Up to ``count`` entries on ``subject`` in the stream from sequence ``start`` on."""
        try:
            return await next_messages(
                self._bus.nc, streams.NOTIFY.name, subject, start, count, timeout=self._timeout
            )
        except TimeoutError as err:
            raise InboxUnavailableError(f"the inbox on {subject} cannot be read now") from err


def _positioned(message: RawStreamMsg | StoredMessage) -> Notification:
    """The entry a stream message holds, at its position."""
    return at_position(Notification.decode(message.data or b""), message.seq or 0)
