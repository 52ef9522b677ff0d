"""Reading a room's messages back: from the CHAT stream while it keeps them, else PostgreSQL.

A room's ``seq`` is gap-free, so a range of seqs is a known set of messages. The stream holds a
room's newest messages (its oldest age out first); persistence holds them all. A range is read
from the stream where it overlaps what the stream holds, and from persistence below that.
In the stream, the first wanted message is found by bisection (``SeqSearch``) with direct gets,
then read forward in batches (direct get ``batch``, NATS 2.11+).

A history page shows each message in its current state. One read from PostgreSQL has it
already. One read from the stream applies its own edits and deletions (``current_state``): for
the newest page that is all of them, since a change comes after its message; an older page is
also given the states PostgreSQL stored.

A range can have holes in the stream: an erased user's events are deleted from it
(docs/protocol.md §4, "Erase a user") after PostgreSQL has made them tombstones. Whatever seqs
a read from the stream lacks are read from PostgreSQL (``_fill``), so a range stays gap-free.
"""

import logging

from nats.js.errors import NotFoundError
from pydantic import ValidationError
from switchboard_contracts import ChatMessage, HistoryRequest, streams, subjects
from switchboard_contracts.chat import MAX_HISTORY_LIMIT
from switchboard_runtime import Bus, UnavailableError
from switchboard_runtime.messaging.stream_pipeline import next_messages

from switchboard_gateway.chat.client import ChatClient
from switchboard_gateway.chat.current_state import current_state, ids_to_look_up
from switchboard_gateway.chat.seq_search import Position, SeqSearch

__all__ = ["RoomLog", "RoomLogError", "hole_windows"]

log = logging.getLogger(__name__)

BATCH = 256


class RoomLogError(UnavailableError):
    """The stream or persistence could not be read; the message says which."""


class RoomLog:
    def __init__(self, bus: Bus, chat: ChatClient, timeout: float) -> None:
        self._bus = bus
        self._chat = chat
        self._timeout = timeout

    async def head(self, room: str) -> int:
        """The room's last ``seq`` (0: the room has no messages)."""
        last = await self._last(room)
        if last is not None:
            return last.seq
        reply = await self._chat.last_seq(room)
        if reply.error is not None:
            raise RoomLogError(reply.error.message)
        return reply.seq

    async def read(
        self, room: str, first: int, last: int, after: Position | None = None
    ) -> list[ChatMessage] | None:
        """Exactly the messages ``first``..``last`` in order, or None if any is missing.

        ``after``: where message ``first - 1`` is in the stream, if known; reading starts there.
        """
        if first > last:
            return []
        if after is not None and after.seq == first - 1:
            hinted = await self._forward(room, after.stream_seq + 1, first, last)
            if [m.seq for m in hinted] == list(range(first, last + 1)):
                return hinted
        bounds = await self._bounds(room)
        messages: list[ChatMessage] = []
        if bounds is None or first < bounds[0].seq:
            below = last if bounds is None else min(last, bounds[0].seq - 1)
            messages += await self._stored(room, first, below)
        if bounds is not None and last >= bounds[0].seq:
            messages += await self._streamed(room, max(first, bounds[0].seq), last, bounds)
            messages = await self._fill(room, messages, first, min(last, bounds[1].seq))
        if [m.seq for m in messages] != list(range(first, last + 1)):
            return None
        return messages

    async def page(
        self, room: str, before: int | None, limit: int
    ) -> tuple[list[ChatMessage], bool]:
        """Up to ``limit`` messages before ``before`` (default: the newest), newest first."""
        bounds = await self._bounds(room)
        if bounds is None:
            reply = await self._chat.history(HistoryRequest(room=room, before=before, limit=limit))
            if reply.error is not None:
                raise RoomLogError(reply.error.message)
            return reply.messages, reply.has_more
        first, newest = bounds
        top = newest.seq if before is None else min(before - 1, newest.seq)
        if top < 1:
            return [], False
        bottom = max(1, top - limit + 1)
        messages: list[ChatMessage] = []
        if top >= first.seq:
            messages += await self._streamed(room, max(bottom, first.seq), top, bounds)
        if bottom < first.seq:
            messages += await self._stored(room, bottom, min(top, first.seq - 1))
        messages = await self._fill(room, messages, bottom, top)
        messages.sort(key=lambda m: m.seq, reverse=True)
        if top == newest.seq:  # every change of these messages came after them: it is here
            return current_state(messages, {}), bottom > 1
        return await self._current(messages), bottom > 1

    async def _current(self, page: list[ChatMessage]) -> list[ChatMessage]:
        """``page`` in its messages' current state (``current_state``); without PostgreSQL,
        with the page's own edits and deletions applied."""
        ids = ids_to_look_up(page)
        stored: dict[str, ChatMessage] = {}
        if ids:
            reply = await self._chat.messages(ids)
            if reply.error is not None:
                log.warning("history without stored states: %s", reply.error.message)
            stored = {m.id: m for m in reply.messages}
        return current_state(page, stored)

    async def _fill(
        self, room: str, messages: list[ChatMessage], first: int, last: int
    ) -> list[ChatMessage]:
        """``messages`` (of ``first``..``last``) with the seqs they lack read from PostgreSQL
        (the stream's holes: erased events), ascending."""
        have = {m.seq for m in messages}
        holes = [seq for seq in range(first, last + 1) if seq not in have]
        for low, high in hole_windows(holes, MAX_HISTORY_LIMIT):  # one history page each
            found = await self._stored(room, low, high)
            messages = messages + [m for m in found if m.seq not in have]
        return sorted(messages, key=lambda m: m.seq)

    async def _stored(self, room: str, first: int, last: int) -> list[ChatMessage]:
        """From persistence, ascending, in pages of at most 100."""
        found: list[ChatMessage] = []
        before = last + 1
        while before > first:
            limit = min(MAX_HISTORY_LIMIT, before - first)
            reply = await self._chat.history(HistoryRequest(room=room, before=before, limit=limit))
            if reply.error is not None:
                raise RoomLogError(reply.error.message)
            if not reply.messages:
                break
            found += reply.messages
            before = min(m.seq for m in reply.messages)
        return sorted((m for m in found if first <= m.seq <= last), key=lambda m: m.seq)

    async def _streamed(
        self, room: str, first: int, last: int, bounds: tuple[Position, Position]
    ) -> list[ChatMessage]:
        """From the stream, ascending; ``first``..``last`` lie within ``bounds``."""
        low, high = bounds
        if first > high.seq:
            return []
        search = SeqSearch(first, low, high)
        while (probe := search.next_probe()) is not None:
            found = await self._next(room, probe)
            search.observe(probe, None if found is None else found[0])
        if search.found is None:  # deleted (erased): read on from the message before it
            return await self._forward(room, search.low.stream_seq + 1, first, last)
        return await self._forward(room, search.found.stream_seq, first, last)

    async def _forward(self, room: str, start: int, first: int, last: int) -> list[ChatMessage]:
        """Messages ``first``..``last`` of the room, read from stream sequence ``start`` on."""
        messages: list[ChatMessage] = []
        while True:
            batch = await self._batch(room, start, min(BATCH, last - first + 1 - len(messages)))
            for position, message in batch:
                if message.seq > last:
                    return messages
                if message.seq >= first:
                    messages.append(message)
                start = position.stream_seq + 1
            if not batch or len(messages) >= last - first + 1:
                return messages

    async def _bounds(self, room: str) -> tuple[Position, Position] | None:
        """Where the stream's oldest and newest messages of the room are, if it has any."""
        last = await self._last(room)
        if last is None:
            return None
        first = await self._next(room, 1)
        if first is None:
            return None
        return first[0], last

    async def _last(self, room: str) -> Position | None:
        try:
            raw = await self._bus.js.get_last_msg(
                streams.CHAT.name, subjects.chat_room(room), direct=True
            )
        except NotFoundError:
            return None
        message = _decode(raw.data)
        if message is None or raw.seq is None:
            return None
        return Position(message.seq, raw.seq)

    async def _next(self, room: str, stream_seq: int) -> tuple[Position, ChatMessage] | None:
        """The room's first message at or after ``stream_seq``."""
        try:
            raw = await self._bus.js.get_msg(
                streams.CHAT.name,
                seq=stream_seq,
                subject=subjects.chat_room(room),
                next=True,
                direct=True,
            )
        except NotFoundError:
            return None
        message = _decode(raw.data)
        if message is None or raw.seq is None:
            return None
        return Position(message.seq, raw.seq), message

    async def _batch(
        self, room: str, stream_seq: int, count: int
    ) -> list[tuple[Position, ChatMessage]]:
        """Up to ``count`` of the room's messages from ``stream_seq`` on, in one request."""
        try:
            stored = await next_messages(
                self._bus.nc,
                streams.CHAT.name,
                subjects.chat_room(room),
                stream_seq,
                count,
                timeout=self._timeout,
            )
        except TimeoutError as err:
            raise RoomLogError("the CHAT stream did not answer a batch read in time") from err
        found: list[tuple[Position, ChatMessage]] = []
        for entry in stored:
            message = _decode(entry.data)
            if message is not None:
                found.append((Position(message.seq, entry.seq), message))
        return found


def hole_windows(seqs: list[int], width: int) -> list[tuple[int, int]]:
    """Ascending ``seqs`` covered by as few ranges as fit ``width`` seqs each (one history
    page): [1, 2, 5, 300] with 100 -> [(1, 5), (300, 300)]. Pure."""
    windows: list[tuple[int, int]] = []
    for seq in seqs:
        if windows and seq - windows[-1][0] < width:
            windows[-1] = (windows[-1][0], seq)
        else:
            windows.append((seq, seq))
    return windows


def _decode(data: bytes | None) -> ChatMessage | None:
    try:
        return ChatMessage.decode(data or b"")
    except ValidationError:
        log.warning("ignoring an undecodable message in the CHAT stream")
        return None
