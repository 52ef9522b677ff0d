"""A user's inbox as the gateway reads it to catch up: recent entries from the NOTIFY stream,
older ones from PostgreSQL (through persistence). Which one answered is invisible to callers.

An entry's cursor is its stream sequence (``at_position``; an entry stored before cursors became
positions keeps the cursor it carries, which is below any later position). So the entries after
cursor ``c`` are read from the stream from sequence ``c + 1`` on, on the user's subject, in
batches (direct gets, ``next_messages``): no search. An old entry may carry a cursor below its
sequence; one at or below ``c`` is skipped. What lies before the user's oldest entry in the
stream was kept by PostgreSQL.
"""

import logging

from nats.js.api import RawStreamMsg
from switchboard_contracts import endpoints, streams, subjects
from switchboard_contracts.notify import (
    LastCursorRequest,
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

__all__ = ["InboxUnavailableError", "StoredInbox"]

log = logging.getLogger(__name__)


class InboxUnavailableError(UnavailableError):
    """Neither the stream nor persistence could answer; the client should retry."""


class StoredInbox:
    def __init__(self, bus: Bus, timeout: float) -> None:
        self._bus = bus
        self._timeout = timeout

    async def head(self, user_id: str) -> int:
        last = await last_message(self._bus.js, streams.NOTIFY.name, subjects.notify_user(user_id))
        if last is not None:
            return _positioned(last).cursor
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
        first = await self._stream_batch(user_id, 1, 1)
        oldest = _positioned(first[0]).cursor if first else None
        if oldest is None or after < oldest:
            # Perhaps entries the stream no longer holds. Positions are sparse, so ``after``
            # below the oldest is normal: persistence finding none is no loss.
            stored = await self._read_stored(user_id, after, limit, oldest)
            if stored or oldest is None:
                return stored
        notifications = await self._read_stream(user_id, after, limit)
        if not notifications:
            return []
        read_upto, read_cursors = await self._read_state(
            user_id, after, limit, notifications[-1].cursor
        )
        return [
            Entry(n, read=n.cursor <= read_upto or n.cursor in read_cursors) for n in notifications
        ]

    async def _read_stream(self, user_id: str, after: int, limit: int) -> list[Notification]:
        """The user's entries in the stream with a cursor above ``after``, at most ``limit``."""
        found: list[Notification] = []
        start = after + 1
        while len(found) < limit:
            want = limit - len(found)
            batch = await self._stream_batch(user_id, start, want)
            found += [n for message in batch if (n := _positioned(message)).cursor > after]
            if len(batch) < want:
                break  # the stream has no more
            start = batch[-1].seq + 1
        return found

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

    async def _stream_batch(self, user_id: str, start: int, count: int) -> list[StoredMessage]:
        """Up to ``count`` of the user's entries in the stream from sequence ``start`` on."""
        try:
            return await next_messages(
                self._bus.nc,
                streams.NOTIFY.name,
                subjects.notify_user(user_id),
                start,
                count,
                timeout=self._timeout,
            )
        except TimeoutError as err:
            raise InboxUnavailableError(f"the inbox of {user_id} cannot be read now") from err


def _positioned(message: RawStreamMsg | StoredMessage) -> Notification:
    """The entry a stream message holds, at its position."""
    return at_position(Notification.decode(message.data or b""), message.seq or 0)
