"""Created rooms and their members in PostgreSQL."""

import asyncpg
from switchboard_contracts.rooms import Room

__all__ = ["RoomExistsError", "RoomStore"]


class RoomExistsError(Exception):
    """A room with that id was created before."""


_SELECT = """
SELECT r.id, r.name, r.private, r.created_by, r.created_at,
       coalesce(array_agg(m.user_id ORDER BY m.user_id)
                FILTER (WHERE m.user_id IS NOT NULL), '{}') AS members
FROM rooms r LEFT JOIN room_members m ON m.room = r.id
"""


def _room(row: asyncpg.Record) -> Room:
    return Room(
        id=row["id"],
        name=row["name"],
        private=row["private"],
        members=list(row["members"]),
        created_by=row["created_by"],
        created_at=row["created_at"],
    )


class RoomStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create(self, room: Room) -> Room:
        async with self._pool.acquire() as conn, conn.transaction():
            inserted = await conn.fetchval(
                "INSERT INTO rooms (id, name, private, created_by, created_at)"
                " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING RETURNING id",
                room.id,
                room.name,
                room.private,
                room.created_by,
                room.created_at,
            )
            if inserted is None:
                raise RoomExistsError(f"room {room.id} already exists")
            await conn.execute(
                "INSERT INTO room_members (room, user_id) SELECT $1, unnest($2::text[])"
                " ON CONFLICT DO NOTHING",
                room.id,
                sorted(set(room.members)),
            )
        return room.model_copy(update={"members": sorted(set(room.members))})

    async def get(self, room_id: str) -> Room | None:
        row = await self._pool.fetchrow(
            f"{_SELECT} WHERE r.id = $1 GROUP BY r.id",
            room_id,
        )
        return None if row is None else _room(row)

    async def visible_to(self, user_id: str) -> list[Room]:
        """Public rooms and the private rooms ``user_id`` is a member of, oldest first."""
        rows = await self._pool.fetch(
            f"{_SELECT} WHERE NOT r.private"  # noqa: S608 (constant query text)
            " OR EXISTS (SELECT 1 FROM room_members x WHERE x.room = r.id AND x.user_id = $1)"
            " GROUP BY r.id ORDER BY r.created_at, r.id",
            user_id,
        )
        return [_room(row) for row in rows]
