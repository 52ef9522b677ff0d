"""Inboxes in PostgreSQL: notifications, read state, and who belongs to which audience.

A user's inbox is their own entries (``notifications``) and the entries of their audiences
(``audience_notifications``, one row per broadcast whatever the audience's size) whose position
lies in one of the user's intervals of that audience (``audience_members``): ``_INBOX``, the one
text every read of an inbox selects from. A cursor is the entry's NOTIFY stream position
(increasing per user, not consecutive). Unread count = the user's entries above read_upto - the
cursors read one by one above it: counted here, so exact once the writer has stored what the
stream holds (the caller waits for that, ``NotifyRequests``).
"""

from dataclasses import dataclass

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from switchboard_contracts.notify import (
    ALL_AUDIENCE,
    InboxItem,
    Membership,
    Notification,
    NotificationType,
    audience_of,
)

__all__ = ["InboxPage", "NotifyStore", "ReadState", "ReplayPage"]

Connection = asyncpg.Connection | PoolConnectionProxy

# One statement, so one round trip and no BEGIN/COMMIT of their own: the audiences' entries, the
# users' entries, their recipients made known (in user order, so that concurrent batches lock
# them in one order), and each recipient a member of 'all' from before their first entry here
# unless they are one already (the partial unique index: one open interval). The members are
# inserted only once every recipient is known (``known`` counted first): a registration locks
# the user's notification_users row, then their memberships, and this must take them in the
# same order or the two could deadlock. Atomic like any statement; any part may also run again
# (a redelivered batch) harmlessly.
_INSERT = """
WITH broadcasts AS (
    INSERT INTO audience_notifications
        (cursor, audience, id, type, title, message, created_at, broadcast_id, team)
    SELECT * FROM unnest($10::bigint[], $11::text[], $12::text[], $13::text[], $14::text[],
                         $15::text[], $16::bigint[], $17::text[], $18::text[])
    ON CONFLICT DO NOTHING
), entries AS (
    INSERT INTO notifications
        (user_id, cursor, id, type, title, message, created_at, broadcast_id, team)
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[],
                         $6::text[], $7::bigint[], $8::text[], $9::text[])
    ON CONFLICT DO NOTHING
), known AS (
    INSERT INTO notification_users (user_id)
    SELECT DISTINCT u FROM unnest($1::text[]) AS u ORDER BY u
    ON CONFLICT DO NOTHING
    RETURNING user_id
)
INSERT INTO audience_members (user_id, audience, from_cursor)
SELECT e.user_id, 'all', min(e.cursor) - 1
FROM unnest($1::text[], $2::bigint[]) AS e(user_id, cursor)
WHERE (SELECT count(*) FROM known) >= 0
GROUP BY e.user_id ORDER BY e.user_id
ON CONFLICT DO NOTHING
"""

_REGISTER = """
INSERT INTO notification_users (user_id, teams) VALUES ($1, coalesce($2::text[], '{}'))
ON CONFLICT (user_id) DO UPDATE
SET last_seen = now(), teams = coalesce($2::text[], notification_users.teams)
"""

# $1 the user, $2 audiences, $3 now: an interval from now of each audience the user has none
# open of (one open already: the partial unique index, nothing done). Never from before the end
# of an earlier interval (a registration that read an older now), so intervals never overlap.
_JOIN = """
INSERT INTO audience_members (user_id, audience, from_cursor)
SELECT $1, a.audience, greatest($3::bigint, (
    SELECT max(m.to_cursor) FROM audience_members m
    WHERE m.user_id = $1 AND m.audience = a.audience
))
FROM unnest($2::text[]) AS a(audience) ORDER BY a.audience
ON CONFLICT DO NOTHING
"""

# $1 the user, $2 the audiences kept, $3 now: the user's open team intervals not kept end now;
# one that began at now or later (it would cover nothing) goes.
_LEAVE = """
WITH emptied AS (
    DELETE FROM audience_members
    WHERE user_id = $1 AND to_cursor IS NULL AND audience LIKE 'team.%'
      AND audience <> ALL($2::text[]) AND from_cursor >= $3
)
UPDATE audience_members SET to_cursor = $3
WHERE user_id = $1 AND to_cursor IS NULL AND audience LIKE 'team.%'
  AND audience <> ALL($2::text[]) AND from_cursor < $3
"""

# The user's inbox ($1 the user): their own entries, and their audiences' entries inside their
# intervals, shown as theirs. Every read of an inbox selects from this (``FROM _INBOX AS n``);
# conditions on n are pushed into both branches by the planner.
_INBOX = """(
    SELECT user_id, cursor, id, type, title, message, created_at, broadcast_id, team,
           NULL::text AS audience
    FROM notifications WHERE user_id = $1
    UNION ALL
    SELECT m.user_id, a.cursor, a.id, a.type, a.title, a.message, a.created_at, a.broadcast_id,
           a.team, a.audience
    FROM audience_members m JOIN audience_notifications a
      ON a.audience = m.audience AND a.cursor > m.from_cursor
     AND (m.to_cursor IS NULL OR a.cursor <= m.to_cursor)
    WHERE m.user_id = $1
)"""

_COLUMNS = (
    "n.user_id, n.cursor, n.id, n.type, n.title, n.message, n.created_at, n.broadcast_id,"
    " n.team, n.audience"
)

# The user's entries above read_upto ($2) that were not read one by one.
_UNREAD = f"""
SELECT (SELECT count(*) FROM {_INBOX} AS n WHERE n.cursor > $2)
     - (SELECT count(*) FROM notification_reads WHERE user_id = $1 AND cursor > $2)
"""  # noqa: S608 (constant)


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
        audience=row["audience"],
    )


def _columns(notifications: list[Notification]) -> list[list[object]]:
    """The fields of the entries, column by column, as both tables take them (less the first)."""
    return [
        [n.id for n in notifications],
        [n.type.value for n in notifications],
        [n.title for n in notifications],
        [n.message for n in notifications],
        [n.timestamp for n in notifications],
        [n.broadcast_id for n in notifications],
        [n.team for n in notifications],
    ]


class NotifyStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def insert(self, notifications: list[Notification]) -> None:
        """Insert in one statement (an entry already stored stays): an audience's entry once
        for everyone, a user's in their inbox; the users become known, and members of 'all'
        from before their entry if they were not (later broadcasts are theirs)."""
        personal = [n for n in notifications if n.audience is None]
        shared = [n for n in notifications if n.audience is not None]
        async with self._pool.acquire() as conn:
            await conn.execute(
                _INSERT,
                [n.user_id for n in personal],
                [n.cursor for n in personal],
                *_columns(personal),
                [n.cursor for n in shared],
                [n.audience for n in shared],
                *_columns(shared),
            )

    async def last_cursor(self, user_id: str) -> int:
        """The cursor of the user's newest entry, theirs or an audience's; 0 when none."""
        cursor = await self._pool.fetchval(
            f"SELECT coalesce(max(n.cursor), 0) FROM {_INBOX} AS n",  # noqa: S608 (constant)
            user_id,
        )
        return int(cursor)

    async def count_from(self, user_id: str, first: int) -> int:
        """How many of the user's own entries from cursor ``first`` on are stored."""
        count = await self._pool.fetchval(
            "SELECT count(*) FROM notifications WHERE user_id = $1 AND cursor >= $2",
            user_id,
            first,
        )
        return int(count)

    async def register(self, user_id: str, teams: list[str] | None, now: int) -> None:
        """The user connected, the stream's last position being ``now``: known with their
        teams (``None``: as they were), a member of 'all' from now unless already one, of each
        team of ``teams`` from now unless already one, and no longer of the teams not in it."""
        named = None if teams is None else sorted(set(teams))
        audiences = [ALL_AUDIENCE, *(audience_of(team) for team in named or [])]
        async with self._pool.acquire() as conn, conn.transaction():
            # first: the user's row locked, so that their registrations run one at a time
            await conn.execute(_REGISTER, user_id, named)
            await conn.execute(_JOIN, user_id, audiences, now)
            if named is not None:
                await conn.execute(_LEAVE, user_id, audiences, now)

    async def memberships(self, user_id: str) -> list[Membership]:
        """Every interval of the user, open and closed, by audience and position."""
        rows = await self._pool.fetch(
            "SELECT audience, from_cursor, to_cursor FROM audience_members"
            " WHERE user_id = $1 ORDER BY audience, from_cursor",
            user_id,
        )
        return [
            Membership(
                audience=row["audience"],
                from_cursor=row["from_cursor"],
                to_cursor=row["to_cursor"],
            )
            for row in rows
        ]

    async def inbox(
        self, user_id: str, unread_only: bool, before: int | None, limit: int
    ) -> InboxPage:
        """Newest first, ``cursor < before``; each with its read flag; the unread count (of the
        same snapshot: an entry listed is counted)."""
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            state = await self._state(conn, user_id)
            rows = await conn.fetch(
                f"SELECT {_COLUMNS}, (n.cursor <= $4 OR r.cursor IS NOT NULL) AS read"  # noqa: S608 (constant)
                f" FROM {_INBOX} AS n LEFT JOIN notification_reads r"
                " ON r.user_id = $1 AND r.cursor = n.cursor"
                " WHERE ($2::bigint IS NULL OR n.cursor < $2)"
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
                    f"SELECT {_COLUMNS} FROM {_INBOX} AS n"  # noqa: S608 (constant)
                    " WHERE n.cursor > $2"
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
        """Mark one notification read; None when the user has no notification with that id.
        A broadcast's id is the same in every member's inbox: read by this user only."""
        async with self._pool.acquire() as conn, conn.transaction():
            cursor = await conn.fetchval(
                f"SELECT n.cursor FROM {_INBOX} AS n WHERE n.id = $2"  # noqa: S608 (constant)
                " ORDER BY n.cursor LIMIT 1",
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
