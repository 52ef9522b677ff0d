"""Read marks (docs/protocol.md §2, "Read receipts"): the gateway's I/O for them.

A mark is clamped to the room's head, stored by persistence (``chat.cmd.store.read-mark``:
``GREATEST``, so never back) and answered with the stored state; only then is it published,
coalesced (``read_coalescing``), on ``chat.read.<room>`` (the room's other members, on every
gateway holding the room: ``RoomHub``) and on ``notify.live.<user>`` with the header
``ROOM_READ_EVENT`` (every connection of the user: ``UserHub``).
"""

import asyncio
import contextlib
import logging
from typing import Protocol

from switchboard_contracts import BusError, ErrorCode, endpoints, subjects
from switchboard_contracts.notify import EVENT_HEADER
from switchboard_contracts.reads import (
    MAX_READ_STATES,
    ROOM_READ_EVENT,
    ReadEvent,
    ReadMarkReply,
    ReadMarkRequest,
    ReadState,
    ReadStatesReply,
    ReadStatesRequest,
)
from switchboard_runtime import Bus

from switchboard_gateway.chat.read_coalescing import ReadCoalescer
from switchboard_gateway.metrics import READ_EVENTS_PUBLISHED

__all__ = ["ReadMarks", "RoomHead"]

log = logging.getLogger(__name__)

HEAD_READS_IN_FLIGHT = 16
"""Rooms whose head the rooms list reads at once."""


class RoomHead(Protocol):
    """The room's last ``seq`` (``room_log.RoomLog``)."""

    async def head(self, room: str) -> int: ...


class ReadMarks:
    def __init__(self, bus: Bus, heads: RoomHead, timeout: float, coalesce: float) -> None:
        self._bus = bus
        self._heads = heads
        self._timeout = timeout
        self._coalescer = ReadCoalescer(coalesce)
        self._coalesce = coalesce
        self._flusher: asyncio.Task[None] | None = None
        self._publishing: set[asyncio.Task[None]] = set()

    async def mark(self, room: str, user_id: str, seq: int) -> ReadMarkReply:
        """Store ``user_id``'s mark (clamped to the head); publish it once stored."""
        try:
            head = await self._heads.head(room)
        except Exception:
            log.warning("the head of a room could not be read for a read mark")
            return ReadMarkReply(
                error=BusError(code=ErrorCode.UNAVAILABLE, message="the room is unavailable; retry")
            )
        request = ReadMarkRequest(room=room, user_id=user_id, seq=min(seq, head), upto=head)
        reply = await self._bus.ask(endpoints.PERSISTENCE_READ_MARK, request, timeout=self._timeout)
        if reply.state is not None:
            self._offer(reply.state)
        return reply

    async def state(self, room: str, user_id: str, upto: int) -> ReadState | None:
        """``user_id``'s mark in ``room`` and what is unread up to ``upto`` (None: unavailable)."""
        reply = await self._states(user_id, [room], [upto])
        return reply.states[0] if reply.error is None and reply.states else None

    async def states(self, user_id: str, rooms: list[str]) -> ReadStatesReply:
        """``user_id``'s marks and unread counts in ``rooms`` (the first ``MAX_READ_STATES``),
        up to each room's head (read from the stream, a few at a time; where that fails, what
        persistence stored)."""
        rooms = rooms[:MAX_READ_STATES]
        limit = asyncio.Semaphore(HEAD_READS_IN_FLIGHT)

        async def head(room: str) -> int | None:
            async with limit:
                try:
                    return await self._heads.head(room)
                except Exception:
                    return None

        heads = await asyncio.gather(*(head(room) for room in rooms))
        return await self._states(user_id, rooms, list(heads))

    async def _states(
        self, user_id: str, rooms: list[str], heads: list[int | None]
    ) -> ReadStatesReply:
        request = ReadStatesRequest(user_id=user_id, rooms=rooms, heads=heads)
        return await self._bus.ask(
            endpoints.PERSISTENCE_READ_STATES, request, timeout=self._timeout
        )

    async def stop(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher

    def _offer(self, state: ReadState) -> None:
        loop = asyncio.get_running_loop()
        now = self._coalescer.offer(state, loop.time())
        if now is not None:
            task = loop.create_task(self._publish(now))
            self._publishing.add(task)
            task.add_done_callback(self._publishing.discard)
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush())

    async def _flush(self) -> None:
        """Publish held marks when due, every quarter interval while any slot is remembered."""
        loop = asyncio.get_running_loop()
        tick = max(self._coalesce / 4, 0.01)
        while len(self._coalescer):
            await asyncio.sleep(tick)
            for state in self._coalescer.due(loop.time()):
                await self._publish(state)

    async def _publish(self, state: ReadState) -> None:
        data = ReadEvent(state=state).encode()
        try:
            await self._bus.publish(subjects.chat_read(state.room), data)
            await self._bus.publish(
                subjects.notify_live(state.user_id), data, headers={EVENT_HEADER: ROOM_READ_EVENT}
            )
        except Exception:
            log.warning("publishing a read mark failed")
            return
        READ_EVENTS_PUBLISHED.inc()
