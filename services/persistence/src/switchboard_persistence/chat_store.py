"""Chat messages in PostgreSQL: idempotent batch inserts and history pages."""

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from switchboard_contracts import ChatMessage

__all__ = ["ChatStore"]

_INSERT = """
INSERT INTO chat_messages (id, room, seq, sender_id, sender_name, client_msg_id, content, sent_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[],
                     $7::text[], $8::bigint[])
ON CONFLICT DO NOTHING
"""

_COLUMNS = "id, room, seq, sender_id, sender_name, client_msg_id, content, sent_at"

# One primary-key probe per id. ``id = ANY($1)`` (or a plain join) is planned as a scan of the
# whole table once a few hundred ids are asked for while the table is small enough to look cheap
# (measured: 11 ms for 333 ids among 50,000 rows, against 0.9 ms probing); LIMIT 1 keeps the
# lateral subquery from being flattened into such a join (and id is the key: one row at most).
_GET_MANY = f"""
SELECT m.* FROM unnest($1::text[]) AS wanted(id)
CROSS JOIN LATERAL (
    SELECT {_COLUMNS} FROM chat_messages WHERE chat_messages.id = wanted.id LIMIT 1
) AS m
"""  # noqa: S608 (constant column list)


def _message(row: asyncpg.Record) -> ChatMessage:
    return ChatMessage(
        id=row["id"],
        room=row["room"],
        seq=row["seq"],
        sender_id=row["sender_id"],
        sender_name=row["sender_name"],
        client_msg_id=row["client_msg_id"],
        content=row["content"],
        timestamp=row["sent_at"],
    )


class ChatStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        # Kept for the lookups (get_many), and whether one is using it now.
        self._lookups: PoolConnectionProxy | None = None
        self._lookup_running = False

    async def insert(self, messages: list[ChatMessage]) -> None:
        """Insert in one transaction; a message already stored is left as it is."""
        async with self._pool.acquire() as conn:
            await conn.execute(
                _INSERT,
                [m.id for m in messages],
                [m.room for m in messages],
                [m.seq for m in messages],
                [m.sender_id for m in messages],
                [m.sender_name for m in messages],
                [m.client_msg_id for m in messages],
                [m.content for m in messages],
                [m.timestamp for m in messages],
            )

    async def page(
        self, room: str, before: int | None, limit: int
    ) -> tuple[list[ChatMessage], bool]:
        """Newest first, ``seq < before``; ``has_more`` tells whether older ones exist."""
        rows = await self._pool.fetch(
            f"SELECT {_COLUMNS} FROM chat_messages"  # noqa: S608 (constant column list)
            " WHERE room = $1 AND ($2::bigint IS NULL OR seq < $2)"
            " ORDER BY seq DESC LIMIT $3",
            room,
            before,
            limit + 1,
        )
        return [_message(row) for row in rows[:limit]], len(rows) > limit

    async def get(self, message_id: str) -> ChatMessage | None:
        row = await self._pool.fetchrow(
            f"SELECT {_COLUMNS} FROM chat_messages WHERE id = $1",  # noqa: S608 (constant columns)
            message_id,
        )
        return None if row is None else _message(row)

    async def get_many(self, message_ids: list[str]) -> list[ChatMessage]:
        """The stored ones of ``message_ids``, in no particular order: one query for them all.

        Chat's exactly-once lookups are a steady stream of small queries; acquiring and
        releasing a pool connection for each cost persistence ~10% of a lookup's CPU, so they
        use a connection kept for them (``close`` gives it back). One asked while another runs
        uses the pool. When the kept connection fails (PostgreSQL restarted), it goes back to
        the pool, which replaces it, and the query, a read, runs again on a pool connection."""
        if self._lookup_running:
            return [_message(row) for row in await self._pool.fetch(_GET_MANY, message_ids)]
        self._lookup_running = True
        try:
            if self._lookups is None:
                self._lookups = await self._pool.acquire()
            try:
                rows = await self._lookups.fetch(_GET_MANY, message_ids)
            except Exception:
                failed, self._lookups = self._lookups, None
                await self._pool.release(failed)
                rows = await self._pool.fetch(_GET_MANY, message_ids)
        finally:
            self._lookup_running = False
        return [_message(row) for row in rows]

    async def close(self) -> None:
        """Give the kept connection back to the pool (``Pool.close`` waits for it)."""
        if self._lookups is not None:
            held, self._lookups = self._lookups, None
            await self._pool.release(held)

    async def last_seq(self, room: str) -> int:
        seq = await self._pool.fetchval(
            "SELECT coalesce(max(seq), 0) FROM chat_messages WHERE room = $1", room
        )
        return int(seq)
