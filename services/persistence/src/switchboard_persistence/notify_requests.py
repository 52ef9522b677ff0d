"""Persistence's side of the notification commands: inbox pages, replay, read state, users."""

import asyncio
import logging
import time

from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from pydantic import ValidationError
from switchboard_contracts import BusError, ErrorCode, InvalidIdError, endpoints, streams, subjects
from switchboard_contracts.ids import validate_user_id
from switchboard_contracts.notify import (
    InboxReply,
    InboxRequest,
    LastCursorReply,
    LastCursorRequest,
    LastCursorsReply,
    LastCursorsRequest,
    MarkReadReply,
    MarkReadRequest,
    Notification,
    RegisterReply,
    RegisterRequest,
    ReplayReply,
    ReplayRequest,
    UsersReply,
    UsersRequest,
)
from switchboard_runtime import Bus
from switchboard_runtime.messaging.sequencer import last_message

from switchboard_persistence.notify_store import NotifyStore

__all__ = ["NotifyRequests"]

log = logging.getLogger(__name__)

CATCH_UP_TIMEOUT_SECONDS = 3.0
CATCH_UP_POLL_SECONDS = 0.02


def _invalid_user(err: InvalidIdError) -> BusError:
    return BusError(code=ErrorCode.INVALID_USER, message=str(err))


class NotifyRequests:
    def __init__(self, bus: Bus, store: NotifyStore) -> None:
        self._bus = bus
        self._store = store

    async def serve(self) -> list[Subscription]:
        bus = self._bus
        return [
            await bus.serve(endpoints.PERSISTENCE_NOTIFY_LAST_CURSOR, self.last_cursor),
            await bus.serve(endpoints.PERSISTENCE_NOTIFY_LAST_CURSORS, self.last_cursors),
            await bus.serve(endpoints.PERSISTENCE_NOTIFY_REGISTER, self.register),
            await bus.serve(endpoints.PERSISTENCE_NOTIFY_USERS, self.users),
            await bus.serve(endpoints.PERSISTENCE_NOTIFY_INBOX, self.inbox),
            await bus.serve(endpoints.PERSISTENCE_NOTIFY_REPLAY, self.replay),
            await bus.serve(endpoints.PERSISTENCE_NOTIFY_MARK_READ, self.mark_read),
        ]

    async def last_cursor(self, request: LastCursorRequest) -> LastCursorReply:
        return LastCursorReply(cursor=await self._store.last_cursor(request.user_id))

    async def last_cursors(self, request: LastCursorsRequest) -> LastCursorsReply:
        return LastCursorsReply(cursors=await self._store.last_cursors(request.user_ids))

    async def register(self, request: RegisterRequest) -> RegisterReply:
        try:
            validate_user_id(request.user_id)
        except InvalidIdError as err:
            return RegisterReply(error=_invalid_user(err))
        await self._store.register(request.user_id, request.teams)
        return RegisterReply()

    async def users(self, request: UsersRequest) -> UsersReply:
        return UsersReply(
            user_ids=await self._store.users(request.team, request.after, request.limit)
        )

    async def inbox(self, request: InboxRequest) -> InboxReply:
        try:
            head = await self._head(request.user_id, wait_for_rows=True)
        except InvalidIdError as err:
            return InboxReply(error=_invalid_user(err))
        page = await self._store.inbox(
            request.user_id, request.unread_only, request.before, request.limit, head
        )
        return InboxReply(items=page.items, unread_count=page.unread_count, has_more=page.has_more)

    async def replay(self, request: ReplayRequest) -> ReplayReply:
        page = await self._store.replay(
            request.user_id, request.after, request.limit, states_only=request.states_only
        )
        return ReplayReply(
            notifications=page.notifications,
            read_upto=page.read_upto,
            read_cursors=page.read_cursors,
        )

    async def mark_read(self, request: MarkReadRequest) -> MarkReadReply:
        user = request.user_id
        try:
            head = await self._head(user, wait_for_rows=False)
        except InvalidIdError as err:
            return MarkReadReply(error=_invalid_user(err))
        if request.notification_id is None:
            state = await self._store.mark_all_read(user, request.upto or head, head)
        else:
            found = await self._store.mark_read(user, request.notification_id, head)
            if found is None:
                # Perhaps just sent and not written yet: wait for the writer, then look again.
                head = await self._head(user, wait_for_rows=True)
                found = await self._store.mark_read(user, request.notification_id, head)
            if found is None:
                return MarkReadReply(
                    error=BusError(
                        code=ErrorCode.NOT_FOUND,
                        message=f"notification {request.notification_id[:80]!r} not found",
                    )
                )
            state = found
        return MarkReadReply(unread_count=state.unread_count, version=state.version)

    async def _head(self, user_id: str, *, wait_for_rows: bool) -> int:
        """The user's newest cursor: in the stream, or stored when the stream has none.

        With ``wait_for_rows``, first wait (bounded) until the writer has stored every entry the
        stream holds for the user, so that a page read next includes the newest entries. Every
        one, not just the newest: batches are written concurrently, so cursor 3 can be committed
        before cursor 2.
        """
        js: JetStreamContext = self._bus.js
        subject = subjects.notify_user(user_id)
        last = await last_message(js, streams.NOTIFY.name, subject)
        try:
            stream_head = 0 if last is None else Notification.decode(last.data or b"").cursor
        except ValidationError:  # a poison entry (dead-lettered by the writer): what is stored
            log.warning("the newest stream entry of a user is undecodable; using stored cursors")
            stream_head = 0
        if not wait_for_rows or stream_head == 0:
            return max(stream_head, await self._store.last_cursor(user_id))
        # The stream holds the user's newest entries, cursors contiguous up to its head.
        info = await js.stream_info(streams.NOTIFY.name, subjects_filter=subject)
        held = min(stream_head, (info.state.subjects or {}).get(subject, 1))
        first = stream_head - held + 1
        deadline = time.monotonic() + CATCH_UP_TIMEOUT_SECONDS
        while await self._store.count_between(user_id, first, stream_head) < held:
            if time.monotonic() >= deadline:
                log.warning("the notification writer is behind; answering without waiting")
                break
            await asyncio.sleep(CATCH_UP_POLL_SECONDS)
        return max(stream_head, await self._store.last_cursor(user_id))
