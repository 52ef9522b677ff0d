"""Inboxes in PostgreSQL: notifications, read state, and the users broadcasts go to.

A cursor is the entry's NOTIFY stream position (increasing per user, not consecutive). Unread
count = the user's entries above read_upto - the cursors read one by one above it: counted
here, so exact once the writer has stored what the stream holds for the user (the caller waits
for that, ``NotifyRequests``).
"""

from dataclasses import dataclass

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from switchboard_contracts.notify import InboxItem, Notification, NotificationType

__all__ = ["InboxPage", "NotifyStore", "ReadState", "ReplayPage"]

Connection = asyncpg.Connection | PoolConnectionProxy

# One statement, so one round trip and no BEGIN/COMMIT of their own: the entries, then their
# recipients made known (in user order, so that concurrent batches lock them in one order).
# Atomic like any statement; either part may also run again (a redelivered batch) harmlessly.
_INSERT = """
WITH entries AS (
    INSERT INTO notifications
        (user_id, cursor, id, type, title, message, created_at, broadcast_id, team)
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[],
                         $6::text[], $7::bigint[], $8::text[], $9::text[])
    ON CONFLICT DO NOTHING
)
INSERT INTO notification_users (user_id)
SELECT DISTINCT u FROM unnest($1::text[]) AS u ORDER BY u
ON CONFLICT DO NOTHING
"""

_REGISTER = """
INSERT INTO notification_users (user_id, teams) VALUES ($1, coalesce($2::text[], '{}'))
ON CONFLICT (user_id) DO UPDATE
SET last_seen = now(), teams = coalesce($2::text[], notification_users.teams)
"""

_COLUMNS = (
    "n.user_id, n.cursor, n.id, n.type, n.title, n.message, n.created_at, n.broadcast_id, n.team"
)


# The user's entries above read_upto that were not read one by one (both on the primary keys).
_UNREAD = """
SELECT (SELECT count(*) FROM notifications WHERE user_id = $1 AND cursor > $2)
     - (SELECT count(*) FROM notification_reads WHERE user_id = $1 AND cursor > $2)
"""


@dataclass(frozen=True)
class ReadState:
    read_upto: int
    version: int
    unread_count: int


@dataclass(frozen=True)
class InboxPage:
    items: list[InboxItem]
    has_more: bool
    unread_count: int


@dataclass(frozen=True)
class ReplayPage:
    notifications: list[Notification]
    read_upto: int
    read_cursors: list[int]


def _notification(row: asyncpg.Record) -> Notification:
    return Notification(
        user_id=row["user_id"],
        cursor=row["cursor"],
        id=row["id"],
        type=NotificationType(row["type"]),
        title=row["title"],
        message=row["message"],
        timestamp=row["created_at"],
        broadcast_id=row["broadcast_id"],
        team=row["team"],
    )


class NotifyStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def insert(self, notifications: list[Notification]) -> None:
        """Insert in one statement (an entry already stored stays); recipients become known."""
        async with self._pool.acquire() as conn:
            await conn.execute(
                _INSERT,
                [n.user_id for n in notifications],
                [n.cursor for n in notifications],
                [n.id for n in notifications],
                [n.type.value for n in notifications],
                [n.title for n in notifications],
                [n.message for n in notifications],
                [n.timestamp for n in notifications],
                [n.broadcast_id for n in notifications],
                [n.team for n in notifications],
            )

    async def last_cursor(self, user_id: str) -> int:
        cursor = await self._pool.fetchval(
            "SELECT coalesce(max(cursor), 0) FROM notifications WHERE user_id = $1", user_id
        )
        return int(cursor)

    async def count_from(self, user_id: str, first: int) -> int:
        """How many of the user's entries from cursor ``first`` on are stored."""
        count = await self._pool.fetchval(
            "SELECT count(*) FROM notifications WHERE user_id = $1 AND cursor >= $2",
            user_id,
            first,
        )
        return int(count)

    async def register(self, user_id: str, teams: list[str] | None) -> None:
        await self._pool.execute(_REGISTER, user_id, sorted(set(teams)) if teams else teams)

    async def users(self, team: str | None, after: str | None, limit: int) -> list[str]:
        rows = await self._pool.fetch(
            "SELECT user_id FROM notification_users"
            " WHERE ($1::text IS NULL OR teams @> ARRAY[$1::text])"
            " AND ($2::text IS NULL OR user_id > $2) ORDER BY user_id LIMIT $3",
            team,
            after,
            limit,
        )
        return [row["user_id"] for row in rows]

    async def inbox(
        self, user_id: str, unread_only: bool, before: int | None, limit: int
    ) -> InboxPage:
        """Newest first, ``cursor < before``; each with its read flag; the unread count (of the
        same snapshot: an entry listed is counted)."""
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            state = await self._state(conn, user_id)
            rows = await conn.fetch(
                f"SELECT {_COLUMNS}, (n.cursor <= $4 OR r.cursor IS NOT NULL) AS read"  # noqa: S608 (constant)
                " FROM notifications n LEFT JOIN notification_reads r"
                " ON r.user_id = n.user_id AND r.cursor = n.cursor"
                " WHERE n.user_id = $1 AND ($2::bigint IS NULL OR n.cursor < $2)"
                " AND (NOT $3 OR (n.cursor > $4 AND r.cursor IS NULL))"
                " ORDER BY n.cursor DESC LIMIT $5",
                user_id,
                before,
                unread_only,
                state.read_upto,
                limit + 1,
            )
        items = [InboxItem(notification=_notification(r), read=r["read"]) for r in rows[:limit]]
        return InboxPage(items, len(rows) > limit, state.unread_count)

    async def replay(
        self,
        user_id: str,
        after: int,
        limit: int,
        *,
        before: int | None = None,
        upto: int | None = None,
        states_only: bool = False,
    ) -> ReplayPage:
        """Oldest first, ``after < cursor < before``; the read state of ``(after, upto]``
        (``upto``: by default the last entry's cursor)."""
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            rows = (
                []
                if states_only
                else await conn.fetch(
                    f"SELECT {_COLUMNS} FROM notifications n"  # noqa: S608 (constant column list)
                    " WHERE n.user_id = $1 AND n.cursor > $2"
                    " AND ($3::bigint IS NULL OR n.cursor < $3) ORDER BY n.cursor LIMIT $4",
                    user_id,
                    after,
                    before,
                    limit,
                )
            )
            if upto is None:
                upto = rows[-1]["cursor"] if rows else after
            read_upto, _ = await self._read_upto(conn, user_id)
            reads = await conn.fetch(
                "SELECT cursor FROM notification_reads WHERE user_id = $1"
                " AND cursor > greatest($2::bigint, $3::bigint) AND cursor <= $4"
                " ORDER BY cursor",
                user_id,
                after,
                read_upto,
                upto,
            )
        return ReplayPage([_notification(r) for r in rows], read_upto, [r["cursor"] for r in reads])

    async def mark_read(self, user_id: str, notification_id: str) -> ReadState | None:
        """Mark one notification read; None when the user has no notification with that id."""
        async with self._pool.acquire() as conn, conn.transaction():
            cursor = await conn.fetchval(
                "SELECT cursor FROM notifications WHERE user_id = $1 AND id = $2"
                " ORDER BY cursor LIMIT 1",
                user_id,
                notification_id,
            )
            if cursor is None:
                return None
            version = await conn.fetchval(
                "INSERT INTO notification_read_state (user_id, version) VALUES ($1, 1)"
                " ON CONFLICT (user_id) DO UPDATE"
                " SET version = notification_read_state.version + 1 RETURNING version",
                user_id,
            )
            await conn.execute(
                "INSERT INTO notification_reads (user_id, cursor)"
                " SELECT $1, $2 FROM notification_read_state"
                " WHERE user_id = $1 AND read_upto < $2 ON CONFLICT DO NOTHING",
                user_id,
                cursor,
            )
            state = await self._state(conn, user_id)
        return ReadState(state.read_upto, int(version), state.unread_count)

    async def mark_all_read(self, user_id: str, upto: int) -> ReadState:
        """Everything up to ``upto`` is read."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "INSERT INTO notification_read_state (user_id, read_upto, version)"
                " VALUES ($1, $2, 1) ON CONFLICT (user_id) DO UPDATE"
                " SET read_upto = greatest(notification_read_state.read_upto, $2),"
                " version = notification_read_state.version + 1"
                " RETURNING read_upto, version",
                user_id,
                upto,
            )
            assert row is not None
            await conn.execute(
                "DELETE FROM notification_reads WHERE user_id = $1 AND cursor <= $2",
                user_id,
                row["read_upto"],
            )
            state = await self._state(conn, user_id)
        return ReadState(state.read_upto, int(row["version"]), state.unread_count)

    async def _read_upto(self, conn: Connection, user_id: str) -> tuple[int, int]:
        row = await conn.fetchrow(
            "SELECT read_upto, version FROM notification_read_state WHERE user_id = $1", user_id
        )
        return (0, 0) if row is None else (int(row["read_upto"]), int(row["version"]))

    async def _state(self, conn: Connection, user_id: str) -> ReadState:
        read_upto, version = await self._read_upto(conn, user_id)
        unread = await conn.fetchval(_UNREAD, user_id, read_upto)
        return ReadState(read_upto, version, max(0, int(unread)))
