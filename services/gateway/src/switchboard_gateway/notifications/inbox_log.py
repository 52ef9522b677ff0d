"""A user's inbox as the gateway reads it to fill gaps: recent entries from the NOTIFY stream,
older ones from PostgreSQL (through persistence). Which one answered is invisible to callers.

The stream holds a user's entries in cursor order on their subject. To start reading at a cursor
we binary-search the stream sequence with "next message on this subject from sequence N" gets:
a user's cursors are gap-free, so the sequence of cursor ``c`` lies within known bounds.
"""

import logging

from nats.js.api import RawStreamMsg
from nats.js.errors import NotFoundError
from switchboard_contracts import endpoints, streams, subjects
from switchboard_contracts.notify import (
    LastCursorRequest,
    Notification,
    ReplayReply,
    ReplayRequest,
)
from switchboard_runtime import Bus, UnavailableError
from switchboard_runtime.messaging.sequencer import last_message

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
            return _decode(last).cursor
        reply = await self._bus.ask(
            endpoints.PERSISTENCE_NOTIFY_LAST_CURSOR,
            LastCursorRequest(user_id=user_id),
            timeout=self._timeout,
        )
        if reply.error is not None:
            raise InboxUnavailableError(f"the inbox of {user_id} cannot be read now; retry")
        return reply.cursor

    async def read(self, user_id: str, after: int, limit: int) -> list[Entry] | Gone:
        first = await self._next_on_subject(user_id, 1)
        if first is None or after + 1 < _decode(first).cursor:
            return await self._read_stored(user_id, after, limit, first)
        found = await self._find(user_id, after + 1, first)
        if found is None:
            return []
        notifications = [_decode(found)]
        seq = found.seq or 0
        while len(notifications) < limit:
            following = await self._next_on_subject(user_id, seq + 1)
            if following is None:
                break
            notifications.append(_decode(following))
            seq = following.seq or 0
        read_upto, read_cursors = await self._read_state(user_id, after, limit)
        return [
            Entry(n, read=n.cursor <= read_upto or n.cursor in read_cursors) for n in notifications
        ]

    async def _read_stored(
        self, user_id: str, after: int, limit: int, first_in_stream: RawStreamMsg | None
    ) -> list[Entry] | Gone:
        """Entries older than the stream holds, from PostgreSQL; the stream gives the rest."""
        reply = await self._replay(user_id, after, limit, states_only=False)
        if reply is None:
            raise InboxUnavailableError(f"older notifications of {user_id} cannot be read now")
        stream_from = _decode(first_in_stream).cursor if first_in_stream else None
        read = set(reply.read_cursors)
        return [
            Entry(n, read=n.cursor <= reply.read_upto or n.cursor in read)
            for n in reply.notifications
            if stream_from is None or n.cursor < stream_from
        ]

    async def _read_state(self, user_id: str, after: int, limit: int) -> tuple[int, set[int]]:
        reply = await self._replay(user_id, after, limit, states_only=True)
        if reply is None:
            # The entries themselves are here; without persistence they read as unread.
            log.warning("read state unavailable; replaying notifications as unread")
            return 0, set()
        return reply.read_upto, set(reply.read_cursors)

    async def _replay(
        self, user_id: str, after: int, limit: int, *, states_only: bool
    ) -> ReplayReply | None:
        reply = await self._bus.ask(
            endpoints.PERSISTENCE_NOTIFY_REPLAY,
            ReplayRequest(user_id=user_id, after=after, limit=limit, states_only=states_only),
            timeout=self._timeout,
        )
        if reply.error is not None:
            return None
        return reply

    async def _find(self, user_id: str, cursor: int, first: RawStreamMsg) -> RawStreamMsg | None:
        """The stream message of ``cursor`` (None when the stream has not reached it)."""
        first_cursor, first_seq = _decode(first).cursor, first.seq or 0
        if cursor == first_cursor:
            return first
        last = await last_message(self._bus.js, streams.NOTIFY.name, subjects.notify_user(user_id))
        if last is None:
            return None
        last_cursor, last_seq = _decode(last).cursor, last.seq or 0
        if cursor > last_cursor:
            return None
        # cursor c sits at least (c - first) messages after the first and (last - c) before the last
        low = first_seq + (cursor - first_cursor)
        high = last_seq - (last_cursor - cursor)
        while low <= high:
            middle = (low + high) // 2
            probe = await self._next_on_subject(user_id, middle)
            if probe is None:
                return None
            found = _decode(probe).cursor
            if found == cursor:
                return probe
            if found < cursor:
                low = (probe.seq or 0) + 1
            else:
                high = middle - 1
        return None

    async def _next_on_subject(self, user_id: str, from_seq: int) -> RawStreamMsg | None:
        try:
            return await self._bus.js.get_msg(
                streams.NOTIFY.name, seq=from_seq, subject=subjects.notify_user(user_id), next=True
            )
        except NotFoundError:
            return None


def _decode(message: RawStreamMsg) -> Notification:
    return Notification.decode(message.data or b"")
