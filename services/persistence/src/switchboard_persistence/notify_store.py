"""Inboxes in PostgreSQL: notifications, read state, and the users broadcasts go to.

Unread count = head - read_upto - (cursors read one by one above read_upto), where ``head`` is
the user's newest cursor as the caller knows it (the stream may hold entries not written here
yet): exact without waiting for the writer.
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


# One probe of the primary key (user_id, cursor) per user, newest first.
_LAST_CURSORS = """
SELECT u.user_id, newest.cursor
FROM unnest($1::text[]) AS u(user_id)
CROSS JOIN LATERAL (
    SELECT cursor FROM notifications n WHERE n.user_id = u.user_id ORDER BY cursor DESC LIMIT 1
) AS newest
"""


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

    async def last_cursors(self, user_ids: list[str]) -> dict[str, int]:
        """The newest stored cursor of each user that has one."""
        rows = await self._pool.fetch(_LAST_CURSORS, user_ids)
        return {row["user_id"]: int(row["cursor"]) for row in rows}

    async def count_between(self, user_id: str, first: int, last: int) -> int:
        """How many of the user's cursors ``first``..``last`` are stored."""
        count = await self._pool.fetchval(
            "SELECT count(*) FROM notifications WHERE user_id = $1 AND cursor BETWEEN $2 AND $3",
            user_id,
            first,
            last,
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
        self, user_id: str, unread_only: bool, before: int | None, limit: int, head: int
    ) -> InboxPage:
        """Newest first, ``cursor < before``; each with its read flag; the unread count.

        ``head`` is raised to the newest cursor this page's snapshot holds: an entry stored after
        the caller read the head (a broadcast landing meanwhile) is listed, so it is counted."""
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            stored = await conn.fetchval(
                "SELECT coalesce(max(cursor), 0) FROM notifications WHERE user_id = $1", user_id
            )
            state = await self._state(conn, user_id, max(head, int(stored)))
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
        self, user_id: str, after: int, limit: int, *, states_only: bool = False
    ) -> ReplayPage:
        """Oldest first, ``cursor > after``; the read state of ``(after, after + limit]``."""
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            rows = (
                []
                if states_only
                else await conn.fetch(
                    f"SELECT {_COLUMNS} FROM notifications n"  # noqa: S608 (constant column list)
                    " WHERE n.user_id = $1 AND n.cursor > $2 ORDER BY n.cursor LIMIT $3",
                    user_id,
                    after,
                    limit,
                )
            )
            read_upto, _ = await self._read_upto(conn, user_id)
            reads = await conn.fetch(
                "SELECT cursor FROM notification_reads WHERE user_id = $1"
                " AND cursor > greatest($2::bigint, $3::bigint) AND cursor <= $2::bigint + $4"
                " ORDER BY cursor",
                user_id,
                after,
                read_upto,
                limit,
            )
        return ReplayPage([_notification(r) for r in rows], read_upto, [r["cursor"] for r in reads])

    async def mark_read(self, user_id: str, notification_id: str, head: int) -> ReadState | None:
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
            state = await self._state(conn, user_id, head)
        return ReadState(state.read_upto, int(version), state.unread_count)

    async def mark_all_read(self, user_id: str, upto: int, head: int) -> ReadState:
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
            state = await self._state(conn, user_id, head)
        return ReadState(state.read_upto, int(row["version"]), state.unread_count)

    async def _read_upto(self, conn: Connection, user_id: str) -> tuple[int, int]:
        row = await conn.fetchrow(
            "SELECT read_upto, version FROM notification_read_state WHERE user_id = $1", user_id
        )
        return (0, 0) if row is None else (int(row["read_upto"]), int(row["version"]))

    async def _state(self, conn: Connection, user_id: str, head: int) -> ReadState:
        read_upto, version = await self._read_upto(conn, user_id)
        read_above = await conn.fetchval(
            "SELECT count(*) FROM notification_reads"
            " WHERE user_id = $1 AND cursor > $2 AND cursor <= $3",
            user_id,
            read_upto,
            head,
        )
        unread = max(0, head - read_upto - int(read_above))
        return ReadState(read_upto, version, unread)
