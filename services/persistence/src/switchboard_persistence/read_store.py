"""Read marks of rooms in PostgreSQL (``room_reads``) and the unread counts after them.

A mark is stored with ``GREATEST``: monotonic and idempotent, so a retried or late mark changes
nothing. Unread is counted from ``chat_messages`` (index on ``(room, seq)``): messages from
others, not edits or deletions, not deleted, after the mark and up to ``upto``; at most
``MAX_UNREAD_COUNTED`` rows are counted. Before counting, the store waits (bounded) for the
newest seqs up to ``upto`` to be written: the gateway acks a message before persistence stores
it, and a count read right after a send should include it.
"""

import asyncio

import asyncpg
from switchboard_contracts.reads import MAX_UNREAD_COUNTED, ReadState

from switchboard_persistence.metrics import READ_MARKS_STORED

__all__ = ["ReadStore"]

WRITTEN_CHECK_SPAN = 256
"""How many of the newest seqs up to ``upto`` must be written before counting."""
WRITTEN_WAIT_SECONDS = 2.0
WRITTEN_POLL_SECONDS = 0.05

_UPSERT = """
INSERT INTO room_reads (room, user_id, read_seq) VALUES ($1, $2, $3)
ON CONFLICT (room, user_id) DO UPDATE
SET read_seq = GREATEST(room_reads.read_seq, EXCLUDED.read_seq),
    updated_at = CASE WHEN EXCLUDED.read_seq > room_reads.read_seq
                      THEN now() ELSE room_reads.updated_at END
RETURNING read_seq
"""
_UNREAD = """
SELECT count(*) FROM (
    SELECT 1 FROM chat_messages
    WHERE room = $1 AND seq > $2 AND seq <= $3
      AND kind = 'message' AND NOT deleted AND sender_id <> $4
    LIMIT $5
) unread
"""
_WRITTEN = "SELECT count(*) FROM chat_messages WHERE room = $1 AND seq > $2 AND seq <= $3"
_MARKS = "SELECT room, read_seq FROM room_reads WHERE room = ANY($1::text[]) AND user_id = $2"
_HEADS = """
SELECT asked.room, (SELECT max(seq) FROM chat_messages WHERE room = asked.room)
FROM unnest($1::text[]) AS asked(room)
"""
"""Each room's newest stored seq: one index look-up per room (a ``GROUP BY`` would scan them)."""
STATES_CONCURRENCY = 8
"""Rooms whose unread counts ``states`` reads at once (each may wait for recent writes)."""


class ReadStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def mark(self, room: str, user_id: str, seq: int, upto: int) -> ReadState:
        """Store ``user_id``'s mark in ``room`` (never moving back) and count what is unread."""
        async with self._pool.acquire() as conn:
            stored: int = await conn.fetchval(_UPSERT, room, user_id, seq)
        READ_MARKS_STORED.inc()
        return await self._state(room, user_id, stored, max(upto, stored))

    async def states(
        self, user_id: str, rooms: list[str], heads: list[int | None]
    ) -> list[ReadState]:
        """``user_id``'s mark and unread count in each of ``rooms`` (0 where never marked),
        counted up to the room's head in ``heads`` or else its newest stored seq."""
        known = [heads[index] if index < len(heads) else None for index in range(len(rooms))]
        unknown = [room for room, head in zip(rooms, known, strict=True) if head is None]
        async with self._pool.acquire() as conn:
            marks = {row[0]: row[1] for row in await conn.fetch(_MARKS, rooms, user_id)}
            newest = (
                {row[0]: row[1] for row in await conn.fetch(_HEADS, unknown)} if unknown else {}
            )
        limit = asyncio.Semaphore(STATES_CONCURRENCY)

        async def state(room: str, head: int | None) -> ReadState:
            seq = marks.get(room) or 0
            upto = max(newest.get(room) or 0 if head is None else head, seq)
            async with limit:
                return await self._state(room, user_id, seq, upto)

        return list(
            await asyncio.gather(
                *(state(room, head) for room, head in zip(rooms, known, strict=True))
            )
        )

    async def _state(self, room: str, user_id: str, seq: int, upto: int) -> ReadState:
        await self._written(room, seq, upto)
        async with self._pool.acquire() as conn:
            unread: int = await conn.fetchval(_UNREAD, room, seq, upto, user_id, MAX_UNREAD_COUNTED)
        return ReadState(room=room, user_id=user_id, seq=seq, unread_count=unread, upto=upto)

    async def _written(self, room: str, seq: int, upto: int) -> None:
        """Wait, at most ``WRITTEN_WAIT_SECONDS``, until the newest seqs up to ``upto`` are
        written (a room's seqs are gap-free, so a full range is a known count)."""
        low = max(seq, upto - WRITTEN_CHECK_SPAN)
        if upto <= low:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WRITTEN_WAIT_SECONDS
        while True:
            async with self._pool.acquire() as conn:
                written: int = await conn.fetchval(_WRITTEN, room, low, upto)
            if written >= upto - low or loop.time() >= deadline:
                return
            await asyncio.sleep(WRITTEN_POLL_SECONDS)
