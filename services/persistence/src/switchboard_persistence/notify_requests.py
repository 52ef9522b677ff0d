"""Persistence's side of the notification commands: inbox pages, replay, read state, and users'
registrations and memberships."""

import asyncio
import logging
import time

from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from pydantic import ValidationError
from switchboard_contracts import BusError, ErrorCode, InvalidIdError, endpoints, streams, subjects
from switchboard_contracts.ids import validate_team_id, validate_user_id
from switchboard_contracts.notify import (
    InboxReply,
    InboxRequest,
    LastCursorReply,
    LastCursorRequest,
    MarkReadReply,
    MarkReadRequest,
    MembershipsReply,
    MembershipsRequest,
    Notification,
    RegisterReply,
    RegisterRequest,
    ReplayReply,
    ReplayRequest,
    at_position,
)
from switchboard_runtime import Bus

from switchboard_persistence.notify_store import NotifyStore

__all__ = ["NotifyRequests"]

log = logging.getLogger(__name__)

CATCH_UP_TIMEOUT_SECONDS = 3.0
CATCH_UP_POLL_SECONDS = 0.02


def _invalid_user(err: InvalidIdError) -> BusError:
    return BusError(code=ErrorCode.INVALID_USER, message=str(err))


class StreamPosition:
    """NOTIFY's last sequence, read once for every caller that asks while a read is under way: a
    burst of registrations (10,000 streams opening) costs a few JetStream requests, not one
    each. A caller may get a read begun just before it asked: its user then becomes a member
    a moment early, never late (no broadcast after it is missed)."""

    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        self._reading: asyncio.Task[int] | None = None

    async def now(self) -> int:
        reading = self._reading
        if reading is None or reading.done():
            reading = self._reading = asyncio.create_task(self._read())
        return await asyncio.shield(reading)

    async def _read(self) -> int:
        try:
            info = await self._bus.js.stream_info(streams.NOTIFY.name)
        except NotFoundError:  # no stream yet: no entry either
            return 0
        return int(info.state.last_seq)


class NotifyRequests:
    def __init__(self, bus: Bus, store: NotifyStore) -> None:
        self._bus = bus
        self._store = store
        self._position = StreamPosition(bus)

    async def serve(self) -> list[Subscription]:
        bus = self._bus
        return [
            await bus.serve(endpoints.PERSISTENCE_NOTIFY_LAST_CURSOR, self.last_cursor),
            await bus.serve(endpoints.PERSISTENCE_NOTIFY_REGISTER, self.register),
            await bus.serve(endpoints.PERSISTENCE_NOTIFY_MEMBERSHIPS, self.memberships),
            await bus.serve(endpoints.PERSISTENCE_NOTIFY_INBOX, self.inbox),
            await bus.serve(endpoints.PERSISTENCE_NOTIFY_REPLAY, self.replay),
            await bus.serve(endpoints.PERSISTENCE_NOTIFY_MARK_READ, self.mark_read),
        ]

    async def last_cursor(self, request: LastCursorRequest) -> LastCursorReply:
        return LastCursorReply(cursor=await self._store.last_cursor(request.user_id))

    async def register(self, request: RegisterRequest) -> RegisterReply:
        """The user becomes a member of 'all', and of the teams named, at the stream's last
        position (entries after it are theirs), and stops being one of the teams left out."""
        try:
            validate_user_id(request.user_id)
        except InvalidIdError as err:
            return RegisterReply(error=_invalid_user(err))
        try:  # a team's audience is a subject token: notify.audience.team.<team>
            for team in request.teams or []:
                validate_team_id(team)
        except InvalidIdError as err:
            return RegisterReply(error=BusError(code=ErrorCode.INVALID_INPUT, message=str(err)))
        await self._store.register(request.user_id, request.teams, await self._position.now())
        return RegisterReply()

    async def memberships(self, request: MembershipsRequest) -> MembershipsReply:
        try:
            validate_user_id(request.user_id)
        except InvalidIdError as err:
            return MembershipsReply(error=_invalid_user(err))
        return MembershipsReply(memberships=await self._store.memberships(request.user_id))

    async def inbox(self, request: InboxRequest) -> InboxReply:
        try:
            await self._stored(request.user_id)
        except InvalidIdError as err:
            return InboxReply(error=_invalid_user(err))
        page = await self._store.inbox(
            request.user_id, request.unread_only, request.before, request.limit
        )
        return InboxReply(items=page.items, unread_count=page.unread_count, has_more=page.has_more)

    async def replay(self, request: ReplayRequest) -> ReplayReply:
        page = await self._store.replay(
            request.user_id,
            request.after,
            request.limit,
            before=request.before,
            upto=request.upto,
            states_only=request.states_only,
        )
        return ReplayReply(
            notifications=page.notifications,
            read_upto=page.read_upto,
            read_cursors=page.read_cursors,
        )

    async def mark_read(self, request: MarkReadRequest) -> MarkReadReply:
        user = request.user_id
        try:
            await self._stored(user)
        except InvalidIdError as err:
            return MarkReadReply(error=_invalid_user(err))
        if request.notification_id is None:
            upto = request.upto if request.upto is not None else await self._store.last_cursor(user)
            state = await self._store.mark_all_read(user, upto)
        else:
            found = await self._store.mark_read(user, request.notification_id)
            if found is None:
                return MarkReadReply(
                    error=BusError(
                        code=ErrorCode.NOT_FOUND,
                        message=f"notification {request.notification_id[:80]!r} not found",
                    )
                )
            state = found
        return MarkReadReply(unread_count=state.unread_count, version=state.version)

    async def _stored(self, user_id: str) -> None:
        """Wait (bounded) until the writer has stored every entry the stream holds for the user,
        so that a page or an unread count read next includes the newest entries. Every one, not
        just the newest: batches are written concurrently, so a newer entry can be committed
        before an older one. The user's own entries are stored when the rows from their oldest
        stream entry on are as many as the stream holds, or when the writer's consumer has acked
        past the stream's end (an entry it dead-lettered is never stored, and must not keep the
        inbox waiting). The audiences' entries are stored when the writer has acked past the
        newest of them (any audience's: simpler than asking which are the user's, and the
        writer keeps up with a broadcast's single entry)."""
        js: JetStreamContext = self._bus.js
        subject = subjects.notify_user(user_id)
        info = await js.stream_info(streams.NOTIFY.name, subjects_filter=subject)
        held = (info.state.subjects or {}).get(subject, 0)
        first = await self._oldest_cursor(js, subject) if held else None
        broadcast = await self._newest_audience_entry(js)
        deadline = time.monotonic() + CATCH_UP_TIMEOUT_SECONDS
        while True:
            own_stored = first is None or await self._store.count_from(user_id, first) >= held
            if own_stored and broadcast == 0:
                return
            floor = await self._acked_floor(js)
            if floor >= broadcast and (own_stored or floor >= info.state.last_seq):
                return
            if time.monotonic() >= deadline:
                log.warning("the notification writer is behind; answering without waiting")
                return
            await asyncio.sleep(CATCH_UP_POLL_SECONDS)

    async def _oldest_cursor(self, js: JetStreamContext, subject: str) -> int | None:
        """The cursor of the oldest entry the stream holds on ``subject`` (None: none left)."""
        try:
            oldest = await js.get_msg(streams.NOTIFY.name, seq=1, subject=subject, next=True)
        except NotFoundError:  # removed meanwhile (the stream's max age)
            return None
        try:
            return at_position(Notification.decode(oldest.data or b""), oldest.seq or 0).cursor
        except ValidationError:  # a poison entry: what the writer acked tells
            return oldest.seq or 0

    async def _newest_audience_entry(self, js: JetStreamContext) -> int:
        """The stream sequence of the newest audience entry the stream holds (0: none)."""
        try:
            newest = await js.get_last_msg(streams.NOTIFY.name, subjects.NOTIFY_AUDIENCE_ALL)
        except NotFoundError:
            return 0
        return newest.seq or 0

    async def _acked_floor(self, js: JetStreamContext) -> int:
        """The NOTIFY sequence up to which the writer has acked everything (0: not known)."""
        try:
            consumer = await js.consumer_info(
                streams.NOTIFY.name, streams.PERSISTENCE_NOTIFY_CONSUMER.durable
            )
        except NotFoundError:
            return 0
        floor = consumer.ack_floor
        return 0 if floor is None else floor.stream_seq or 0
