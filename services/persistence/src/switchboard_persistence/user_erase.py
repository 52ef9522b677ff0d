"""Erasing a user: deletions, PostgreSQL, then the CHAT stream (docs/protocol.md §4).

In this order, so that no reader finds an event in neither place and nothing can reuse a seq:

1. The CHAT stream is scanned once for the user's events (every room; the sender is in the
   payload, not the subject), and for others' edits of the user's messages (a moderator's:
   their content is erased with the message). Synchronous and bounded by the stream's
   retention.
2. Each of the user's messages still shown is deleted through chat, as a moderator would
   (sender ``ERASER_ID``, ``clientMsgId`` ``erase-<id>``: a rerun is the same deletion): members
   get the ``delete`` frame live, a client back with ``since`` gets it replayed, and the room's
   newest event is no longer the user's.
3. PostgreSQL, a transaction per room (``EraseStore.erase_room``), the events the writer has
   not stored yet included (inserted blank); then the user's audience memberships (the
   broadcasts themselves are shared and stay).
4. These events are deleted from the stream (``js.delete_msg``), except an event that is
   still its room's newest (``stream_deletions``). Readers serve the holes from PostgreSQL.
"""

import asyncio
import logging

from nats.js.errors import NotFoundError
from pydantic import ValidationError
from switchboard_contracts import (
    ChatMessage,
    ChatSendRequest,
    EventKind,
    endpoints,
    streams,
    subjects,
)
from switchboard_contracts.erase import ERASER_ID, RoomErased, UserEraseReply, UserEraseRequest
from switchboard_runtime import Bus
from switchboard_runtime.messaging.stream_pipeline import next_messages

from switchboard_persistence.erase_plan import StreamEvent, stream_deletions
from switchboard_persistence.erase_store import EraseStore
from switchboard_persistence.metrics import USERS_ERASED

__all__ = ["UserEraser"]

log = logging.getLogger(__name__)

SCAN_BATCH = 256
DELETIONS_AT_ONCE = 16
READ_TIMEOUT_SECONDS = 5.0


class UserEraser:
    def __init__(self, bus: Bus, store: EraseStore) -> None:
        self._bus = bus
        self._store = store

    async def serve(self) -> None:
        await self._bus.serve(endpoints.PERSISTENCE_USER_ERASE, self.erase)

    async def erase(self, request: UserEraseRequest) -> UserEraseReply:
        user = request.user_id
        events, edits = await self._scan(user)
        await self._delete_messages(user, events)
        theirs = {e.message.id for e in events if e.message.kind is None}
        targets = sorted({e.message.target_id for e in edits if e.message.target_id})
        theirs |= await self._store.written_by(user, [t for t in targets if t not in theirs])
        events = sorted(
            [*events, *(e for e in edits if e.message.target_id in theirs)],
            key=lambda e: e.stream_seq,
        )
        by_room: dict[str, list[ChatMessage]] = {}
        for event in events:
            by_room.setdefault(event.message.room, []).append(event.message)
        rooms = sorted(set(await self._store.rooms_of(user)) | set(by_room))
        changed: dict[str, RoomErased] = {}
        for room in rooms:
            erased = await self._store.erase_room(user, room, by_room.get(room, []))
            if erased.messages or erased.edits or erased.reactions or erased.reads:
                changed[room] = erased
        memberships = await self._store.forget_memberships(user)
        newest = {room: await self._newest(room) for room in by_room}
        doomed, kept = stream_deletions(events, {r: s for r, s in newest.items() if s})
        removed = 0
        for stream_seq in doomed:
            try:
                await self._bus.js.delete_msg(streams.CHAT.name, stream_seq)
            except NotFoundError:
                continue  # aged out, or deleted by an erasure running beside this one
            removed += 1
        USERS_ERASED.inc()
        log.info(
            "erased a user: %d rooms changed, %d memberships removed,"
            " %d stream messages removed, %d kept",
            len(changed),
            memberships,
            removed,
            kept,
        )
        return UserEraseReply(
            user_id=user,
            rooms=changed,
            stream_messages_removed=removed,
            stream_messages_kept=kept,
        )

    async def _delete_messages(self, user: str, events: list[StreamEvent]) -> None:
        """A deletion, through chat, of each of the user's messages not deleted yet."""
        targets = dict.fromkeys(await self._store.live_messages(user))
        deleted = {e.message.target_id for e in events if e.message.kind is EventKind.DELETE}
        for event in events:
            message = event.message
            if message.kind is None and message.id not in deleted:
                targets[(message.room, message.id)] = None
        gate = asyncio.Semaphore(DELETIONS_AT_ONCE)

        async def delete(room: str, message_id: str) -> None:
            async with gate:
                reply = await self._bus.ask(
                    endpoints.CHAT_SEND,
                    ChatSendRequest(
                        room=room,
                        user_id=ERASER_ID,
                        content="",
                        client_msg_id=f"erase-{message_id}",
                        kind=EventKind.DELETE,
                        target_id=message_id,
                        moderator=True,
                    ),
                )
            if reply.error is not None:  # not_found: deleted already; else erased all the same
                log.info("an erasure's deletion was refused: %s", reply.error.code.value)

        await asyncio.gather(*(delete(room, message_id) for room, message_id in targets))

    async def _newest(self, room: str) -> int | None:
        """The stream sequence of the room's newest event, asked of the stream's leader."""
        try:
            last = await self._bus.js.get_last_msg(streams.CHAT.name, subjects.chat_room(room))
        except NotFoundError:
            return None
        return last.seq

    async def _scan(self, user: str) -> tuple[list[StreamEvent], list[StreamEvent]]:
        """The user's events in the CHAT stream, every room's, in stream order; and the others'
        edits (those of the user's messages among them are erased too)."""
        info = await self._bus.js.stream_info(streams.CHAT.name)
        start, end = info.state.first_seq, info.state.last_seq
        own: list[StreamEvent] = []
        edits: list[StreamEvent] = []
        while start <= end:
            last, batch = await self._batch(start)
            for event in batch:
                if event.stream_seq > end:
                    break
                if event.message.sender_id == user:
                    own.append(event)
                elif event.message.kind is EventKind.EDIT:
                    edits.append(event)
            if last is None:
                break
            start = last + 1
        return own, edits

    async def _batch(self, start: int) -> tuple[int | None, list[StreamEvent]]:
        """Up to ``SCAN_BATCH`` room events from stream sequence ``start`` on, in one request,
        and the stream sequence of the last one read (None: there was none)."""
        stored = await next_messages(
            self._bus.nc,
            streams.CHAT.name,
            subjects.CHAT_ROOM_ALL,
            start,
            SCAN_BATCH,
            timeout=READ_TIMEOUT_SECONDS,
        )
        found: list[StreamEvent] = []
        for entry in stored:
            try:
                found.append(StreamEvent(entry.seq, ChatMessage.decode(entry.data)))
            except ValidationError:
                log.warning("an erasure skipped an undecodable message of the CHAT stream")
        return (stored[-1].seq if stored else None), found
