"""Erasing a user's rows in PostgreSQL (docs/protocol.md §4, "Erase a user").

One transaction per room (``erase_room``). The user's messages become tombstones (content '',
deleted, versions gone, sender name gone); the content of the user's edits and of every edit of
the user's messages is blanked; each of the user's rows is marked ``erased``. An edit the user
made of someone else's message (a moderator's) is dropped from that message's versions, and the
message's content becomes its latest remaining version (the original, if no other edit is
left). Rows already marked are not counted again: a rerun reports nothing new.

Events the CHAT stream has and PostgreSQL not yet (the writer behind) are inserted first,
blank, so that deleting them from the stream afterwards leaves no hole in the room.
"""

from collections.abc import Sequence

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from switchboard_contracts import ChatMessage
from switchboard_contracts.erase import RoomErased

__all__ = ["EraseStore", "erase_reactions_and_reads"]

_INSERT_BLANK = """
INSERT INTO chat_messages (id, room, seq, sender_id, client_msg_id, content, sent_at,
                           kind, target_id, target_seq)
SELECT id, room, seq, sender_id, client_msg_id, '', sent_at, kind, target_id, target_seq
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::bigint[],
            $7::text[], $8::text[], $9::bigint[])
    AS e(id, room, seq, sender_id, client_msg_id, sent_at, kind, target_id, target_seq)
ON CONFLICT DO NOTHING
"""

# $1 the user, $2 the room; in this order, in one transaction.
_ERASE = (
    # the messages changed (the user's, and others' the user edited) locked first, in id
    # order as the writer's _APPLY locks its targets: the two wait for each other, no deadlock
    """SELECT id FROM chat_messages
    WHERE (sender_id = $1 AND room = $2 AND kind = 'message') OR id IN (
        SELECT target_id FROM chat_messages
        WHERE sender_id = $1 AND room = $2 AND kind = 'edit' AND NOT erased
    ) ORDER BY id FOR UPDATE""",
    # their versions lose the user's edits
    """DELETE FROM chat_message_versions v USING chat_messages e
    WHERE e.sender_id = $1 AND e.room = $2 AND e.kind = 'edit' AND NOT e.erased
      AND v.message_id = e.target_id AND v.seq = e.seq""",
    # and show their latest remaining version
    """UPDATE chat_messages m
    SET content = v.content,
        edit_count = v.edits,
        edited_at = CASE WHEN v.edits > 0 THEN v.sent_at END,
        edited_seq = CASE WHEN v.edits > 0 THEN v.seq END
    FROM (
        SELECT DISTINCT ON (message_id) message_id, content, sent_at, seq,
               count(*) OVER (PARTITION BY message_id) - 1 AS edits
        FROM chat_message_versions WHERE message_id IN (
            SELECT target_id FROM chat_messages
            WHERE sender_id = $1 AND room = $2 AND kind = 'edit' AND NOT erased
        )
        ORDER BY message_id, seq DESC
    ) AS v
    WHERE m.id = v.message_id AND NOT m.deleted AND m.sender_id <> $1""",
    # the user's messages lose their versions, and their edits (anyone's) their content
    """DELETE FROM chat_message_versions v USING chat_messages m
    WHERE m.sender_id = $1 AND m.room = $2 AND m.kind = 'message' AND v.message_id = m.id""",
    """UPDATE chat_messages e SET content = '' FROM chat_messages m
    WHERE m.sender_id = $1 AND m.room = $2 AND m.kind = 'message'
      AND e.target_id = m.id AND e.kind = 'edit' AND e.content <> ''""",
)

_MARK = """
UPDATE chat_messages
SET content = '', sender_name = NULL, erased = true,
    deleted = (kind = 'message' OR deleted),
    edit_count = CASE WHEN kind = 'message' THEN 0 ELSE edit_count END,
    edited_at = CASE WHEN kind = 'message' THEN NULL ELSE edited_at END,
    edited_seq = CASE WHEN kind = 'message' THEN NULL ELSE edited_seq END
WHERE sender_id = $1 AND room = $2 AND NOT erased
RETURNING kind
"""


# $1 the user, $2 the room: the user's reactions on the room's messages go (their events'
# rows are blanked with the user's other rows above), and a message left without any is no
# longer marked as holding some.
_ERASE_REACTIONS = (
    """
    DELETE FROM chat_reactions r USING chat_messages m
    WHERE r.user_id = $1 AND r.message_id = m.id AND m.room = $2
    """,
    """
    UPDATE chat_messages m SET reacted = false
    WHERE m.room = $2 AND m.reacted AND $1::text IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM chat_reactions r WHERE r.message_id = m.id AND r.added)
    """,
)


async def erase_reactions_and_reads(conn: PoolConnectionProxy, user_id: str, room: str) -> int:
    """The user's reactions and read mark of ``room``, in the room's transaction; returns the
    read marks removed (0 or 1)."""
    for statement in _ERASE_REACTIONS:
        await conn.execute(statement, user_id, room)
    removed = await conn.fetch(
        "DELETE FROM room_reads WHERE user_id = $1 AND room = $2 RETURNING room", user_id, room
    )
    return len(removed)


class EraseStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def rooms_of(self, user_id: str) -> list[str]:
        """The rooms where PostgreSQL holds rows the user wrote, or the user's read mark."""
        rows = await self._pool.fetch(
            "SELECT room FROM chat_messages WHERE sender_id = $1"
            " UNION SELECT room FROM room_reads WHERE user_id = $1 ORDER BY room",
            user_id,
        )
        return [row["room"] for row in rows]

    async def written_by(self, user_id: str, ids: list[str]) -> set[str]:
        """Those of ``ids`` that are messages the user wrote."""
        rows = await self._pool.fetch(
            "SELECT id FROM chat_messages WHERE id = ANY($1::text[]) AND sender_id = $2",
            ids,
            user_id,
        )
        return {row["id"] for row in rows}

    async def live_messages(self, user_id: str) -> list[tuple[str, str]]:
        """(room, id) of the user's messages not deleted: what an erasure deletes."""
        rows = await self._pool.fetch(
            "SELECT room, id FROM chat_messages"
            " WHERE sender_id = $1 AND kind = 'message' AND NOT deleted ORDER BY room, seq",
            user_id,
        )
        return [(row["room"], row["id"]) for row in rows]

    async def forget_memberships(self, user_id: str) -> int:
        """The user's intervals of every audience (the audiences' entries are shared and stay);
        returns how many went."""
        removed = await self._pool.fetch(
            "DELETE FROM audience_members WHERE user_id = $1 RETURNING audience", user_id
        )
        return len(removed)

    async def erase_room(
        self, user_id: str, room: str, unwritten: Sequence[ChatMessage]
    ) -> RoomErased:
        """Erase the user's rows of ``room`` in one transaction (``unwritten``: the events of
        the room to erase read from the stream, the user's and others' edits of the user's
        messages, inserted blank where not stored yet)."""
        async with self._pool.acquire() as conn, conn.transaction():
            if unwritten:
                await conn.execute(
                    _INSERT_BLANK,
                    [e.id for e in unwritten],
                    [e.room for e in unwritten],
                    [e.seq for e in unwritten],
                    [e.sender_id for e in unwritten],
                    [e.client_msg_id for e in unwritten],
                    [e.timestamp for e in unwritten],
                    [e.kind.value if e.kind else "message" for e in unwritten],
                    [e.target_id for e in unwritten],
                    [e.target_seq for e in unwritten],
                )
            for statement in _ERASE:
                await conn.execute(statement, user_id, room)
            marked = await conn.fetch(_MARK, user_id, room)
            reads = await erase_reactions_and_reads(conn, user_id, room)
        kinds = [row["kind"] for row in marked]
        return RoomErased(
            messages=kinds.count("message"),
            edits=kinds.count("edit"),
            reactions=kinds.count("react") + kinds.count("unreact"),
            reads=reads,
        )
