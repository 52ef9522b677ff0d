"""Chat messages in PostgreSQL: idempotent batch inserts and history pages."""

import asyncpg
from switchboard_contracts import ChatMessage

__all__ = ["ChatStore"]

_INSERT = """
INSERT INTO chat_messages (id, room, seq, sender_id, sender_name, client_msg_id, content, sent_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[],
                     $7::text[], $8::bigint[])
ON CONFLICT DO NOTHING
"""

_COLUMNS = "id, room, seq, sender_id, sender_name, client_msg_id, content, sent_at"


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

    async def last_seq(self, room: str) -> int:
        seq = await self._pool.fetchval(
            "SELECT coalesce(max(seq), 0) FROM chat_messages WHERE room = $1", room
        )
        return int(seq)
