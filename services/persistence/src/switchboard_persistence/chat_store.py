"""Chat messages in PostgreSQL: idempotent batch inserts and history pages.

Edits and deletions are rows of their own (at their own seq) and are applied to their target's
row in the transaction that inserts them (``_APPLY``). Applying works from the stored events,
not from what came before: the target's content is its latest version by seq, its edit count
the number of its edits, and a deletion wins whatever the order. So a batch redelivered, or
batches of one room committed out of their order (``write_concurrency``), come to the same
state. The target's row is always there first: chat looks it up before accepting the change.

Reactions are rows too (kind ``react``/``unreact``, content the emoji). ``chat_reactions`` holds
what they leave (``_APPLY_REACTIONS``): per (message, emoji, user) the latest event by seq and
whether it added the emoji, an older one arriving later changing nothing; nothing on a deleted
message. So it is order- and redelivery-safe in the same way, at a cost per event, not per
reaction the message holds. Messages read back carry
their reactions (``Reaction``), asked of ``chat_reactions`` only for rows marked ``reacted``.
"""

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from pydantic import TypeAdapter
from switchboard_contracts import BusError, ChatMessage, ErrorCode, EventKind
from switchboard_contracts.chat import REACTION_KINDS, MessageVersion, VersionsReply
from switchboard_contracts.reactions import REACTION_USERS_LISTED, Reaction

__all__ = ["ChatStore"]

# A batch is one JSON document, read by PostgreSQL (``jsonb_to_recordset``): as eight arrays,
# asyncpg encoded every value in Python, a check and a conversion each, 29% of persistence's
# samples at 4,000 chat messages/s; pydantic-core writes the document in one call.
_ROWS = TypeAdapter(list[ChatMessage])
# Plain messages and events alike: a message's missing ``kind`` is the column's 'message'.
_INSERT = """
INSERT INTO chat_messages (id, room, seq, sender_id, sender_name, client_msg_id, content, sent_at,
                           kind, target_id, target_seq)
SELECT id, room, seq, sender_id, sender_name, client_msg_id, content, "timestamp",
       coalesce(kind, 'message'), target_id, target_seq
FROM jsonb_to_recordset($1::jsonb) AS m(id text, room text, seq bigint, sender_id text,
    sender_name text, client_msg_id text, content text, "timestamp" bigint,
    kind text, target_id text, target_seq bigint)
ON CONFLICT DO NOTHING
"""

# Each with $1 the ids of the messages the batch's events change, in this order, in the
# inserting transaction. The lock makes a concurrent batch changing the same message wait, so
# that the statements after it (each with a fresh snapshot) see that batch's events.
_APPLY = (
    "SELECT id FROM chat_messages WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE",
    # the original, before its first edit replaces it
    """INSERT INTO chat_message_versions (message_id, seq, content, sent_at)
    SELECT id, seq, content, sent_at FROM chat_messages
    WHERE id = ANY($1::text[]) AND kind = 'message' AND edited_seq IS NULL AND NOT deleted
    ON CONFLICT DO NOTHING""",
    """INSERT INTO chat_message_versions (message_id, seq, content, sent_at)
    SELECT target_id, seq, content, sent_at FROM chat_messages
    WHERE target_id = ANY($1::text[]) AND kind = 'edit' AND NOT erased
    ON CONFLICT DO NOTHING""",
    """UPDATE chat_messages m
    SET content = v.content, edit_count = v.edits, edited_at = v.sent_at, edited_seq = v.seq
    FROM (
        SELECT DISTINCT ON (message_id) message_id, content, sent_at, seq,
               count(*) OVER (PARTITION BY message_id) - 1 AS edits
        FROM chat_message_versions WHERE message_id = ANY($1::text[])
        ORDER BY message_id, seq DESC
    ) AS v
    WHERE m.id = v.message_id AND m.kind = 'message' AND NOT m.deleted AND v.edits > 0""",
    # a deletion: the row a tombstone, its edits' content and its versions gone
    """WITH gone AS (
        SELECT DISTINCT target_id AS id FROM chat_messages
        WHERE target_id = ANY($1::text[]) AND kind = 'delete'
    ), tombstones AS (
        UPDATE chat_messages m SET content = '', deleted = true FROM gone WHERE m.id = gone.id
        RETURNING m.id
    ), edits AS (
        UPDATE chat_messages e SET content = '' FROM gone
        WHERE e.target_id = gone.id AND e.kind = 'edit' RETURNING e.id
    )
    DELETE FROM chat_message_versions v USING gone WHERE v.message_id = gone.id""",
)

# After ``_APPLY`` (whose lock on the targets holds), in this order. The first with the batch's
# reaction events as columns ($1 target, $2 emoji, $3 user, $4 seq, $5 added, $6 the event's
# id): each (message, emoji, user) takes the batch's latest event unless a later one is stored
# already; none on a deleted message, and none from an event an erasure stored first (blank and
# ``erased``: the writer may still hold the event it read from the stream before). The others
# with $1 the ids of the messages the batch reacts to or deletes: a deleted message's reactions
# go, and each message's mark is set anew.
_APPLY_REACTIONS = (
    """INSERT INTO chat_reactions (message_id, emoji, user_id, seq, added)
    SELECT DISTINCT ON (b.target, b.emoji, b.user_id) b.target, b.emoji, b.user_id, b.seq, b.added
    FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::boolean[], $6::text[])
        AS b(target, emoji, user_id, seq, added, id)
    JOIN chat_messages m ON m.id = b.target AND NOT m.deleted
    JOIN chat_messages ev ON ev.id = b.id AND NOT ev.erased
    ORDER BY b.target, b.emoji, b.user_id, b.seq DESC
    ON CONFLICT (message_id, emoji, user_id) DO UPDATE
    SET seq = excluded.seq, added = excluded.added
    WHERE chat_reactions.seq < excluded.seq""",
    """DELETE FROM chat_reactions r USING chat_messages m
    WHERE m.id = ANY($1::text[]) AND m.deleted AND r.message_id = m.id""",
    """UPDATE chat_messages m
    SET reacted = EXISTS (SELECT 1 FROM chat_reactions r WHERE r.message_id = m.id AND r.added)
    WHERE m.id = ANY($1::text[])""",
)

_REACTION_KINDS = frozenset({EventKind.REACT, EventKind.UNREACT, EventKind.DELETE})
"""The kinds of event that change a message's reactions."""

# Per message and emoji: the exact count, the first users by seq; emoji by their first seq.
_REACTIONS = f"""
SELECT message_id, emoji, count(*)::int AS n, min(seq) AS first,
       (array_agg(user_id ORDER BY seq))[1:{REACTION_USERS_LISTED}] AS users
FROM chat_reactions WHERE message_id = ANY($1::text[]) AND added
GROUP BY message_id, emoji ORDER BY message_id, first
"""  # noqa: S608 (a constant)

_COLUMNS = (
    "id, room, seq, sender_id, sender_name, client_msg_id, content, sent_at,"
    " kind, target_id, target_seq, edit_count, edited_at, edited_seq, deleted, reacted"
)

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


def _message(row: asyncpg.Record, reactions: list[Reaction] | None = None) -> ChatMessage:
    return ChatMessage(
        id=row["id"],
        room=row["room"],
        seq=row["seq"],
        sender_id=row["sender_id"],
        sender_name=row["sender_name"],
        client_msg_id=row["client_msg_id"],
        content=row["content"],
        timestamp=row["sent_at"],
        kind=None if row["kind"] == "message" else EventKind(row["kind"]),
        target_id=row["target_id"],
        target_seq=row["target_seq"],
        edit_count=row["edit_count"] or None,
        edited_at=row["edited_at"],
        edited_seq=row["edited_seq"],
        deleted=row["deleted"] or None,
        reactions=reactions or None,
    )


async def _messages(
    conn: asyncpg.Pool | PoolConnectionProxy, rows: list[asyncpg.Record]
) -> list[ChatMessage]:
    """``rows`` as messages, each with its reactions (one query, for the rows marked)."""
    reacted = [row["id"] for row in rows if row["reacted"]]
    if not reacted:
        return [_message(row) for row in rows]
    found: dict[str, list[Reaction]] = {}
    for r in await conn.fetch(_REACTIONS, reacted):
        found.setdefault(r["message_id"], []).append(
            Reaction(emoji=r["emoji"], count=r["n"], users=list(r["users"]))
        )
    return [_message(row, found.get(row["id"])) for row in rows]


async def _apply_reactions(conn: PoolConnectionProxy, messages: list[ChatMessage]) -> None:
    """``_APPLY_REACTIONS`` for the batch's reactions and deletions, if it has any."""
    changed = sorted({m.target_id for m in messages if m.kind in _REACTION_KINDS and m.target_id})
    if not changed:
        return
    reactions = [m for m in messages if m.kind in REACTION_KINDS]
    insert, *after = _APPLY_REACTIONS
    if reactions:
        await conn.execute(
            insert,
            [m.target_id for m in reactions],
            [m.content for m in reactions],
            [m.sender_id for m in reactions],
            [m.seq for m in reactions],
            [m.kind is EventKind.REACT for m in reactions],
            [m.id for m in reactions],
        )
    for statement in after:
        await conn.execute(statement, changed)


class ChatStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        # Kept for the lookups (get_many), and whether one is using it now.
        self._lookups: PoolConnectionProxy | None = None
        self._lookup_running = False

    async def insert(self, messages: list[ChatMessage]) -> None:
        """Insert in one transaction; a message already stored is left as it is. Edits and
        deletions among them are applied to their targets in the same transaction."""
        rows = _ROWS.dump_json(messages, exclude_none=True).decode()
        targets = sorted({m.target_id for m in messages if m.kind and m.target_id})
        async with self._pool.acquire() as conn:
            if not targets:  # messages only: the one statement of the hot path
                await conn.execute(_INSERT, rows)
                return
            async with conn.transaction():
                await conn.execute(_INSERT, rows)
                lock, *apply = _APPLY
                await conn.execute(lock, targets)
                # versions and tombstones only for what is edited or deleted, not only reacted to
                rewritten = sorted(
                    {
                        m.target_id
                        for m in messages
                        if m.kind in (EventKind.EDIT, EventKind.DELETE) and m.target_id
                    }
                )
                if rewritten:
                    for statement in apply:
                        await conn.execute(statement, rewritten)
                await _apply_reactions(conn, messages)

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
        return await _messages(self._pool, rows[:limit]), len(rows) > limit

    async def versions(self, message_id: str) -> list[tuple[int, str, int]]:
        """The kept versions of an edited message, oldest first: (seq, content, sent at) of the
        original and of each edit; none for a message never edited, or deleted."""
        rows = await self._pool.fetch(
            "SELECT seq, content, sent_at FROM chat_message_versions"
            " WHERE message_id = $1 ORDER BY seq",
            message_id,
        )
        return [(row["seq"], row["content"], row["sent_at"]) for row in rows]

    async def message_versions(self, room: str, message_id: str) -> VersionsReply:
        """Every version of the message ``message_id`` of ``room`` (``VersionsReply``)."""
        message = await self.get(message_id)
        if message is None or message.room != room or message.kind is not None:
            return VersionsReply(
                error=BusError(
                    code=ErrorCode.NOT_FOUND, message=f"no message {message_id} in room {room}"
                )
            )
        if message.deleted:
            return VersionsReply(deleted=True)
        kept = await self.versions(message_id) or [
            (message.seq, message.content, message.timestamp)
        ]
        return VersionsReply(
            versions=[MessageVersion(seq=s, content=c, timestamp=t) for s, c, t in kept]
        )

    async def get(self, message_id: str) -> ChatMessage | None:
        row = await self._pool.fetchrow(
            f"SELECT {_COLUMNS} FROM chat_messages WHERE id = $1",  # noqa: S608 (constant columns)
            message_id,
        )
        return None if row is None else (await _messages(self._pool, [row]))[0]

    async def get_many(self, message_ids: list[str]) -> list[ChatMessage]:
        """The stored ones of ``message_ids``, in no particular order: one query for them all.

        Chat's exactly-once lookups are a steady stream of small queries; acquiring and
        releasing a pool connection for each cost persistence ~10% of a lookup's CPU, so they
        use a connection kept for them (``close`` gives it back). One asked while another runs
        uses the pool. When the kept connection fails (PostgreSQL restarted), it goes back to
        the pool, which replaces it, and the query, a read, runs again on a pool connection."""
        if self._lookup_running:
            return await _messages(self._pool, await self._pool.fetch(_GET_MANY, message_ids))
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
        return await _messages(self._pool, rows)

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
