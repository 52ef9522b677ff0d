"""Putting notifications into users' inboxes: a gap-free cursor per user, stored in NOTIFY."""

import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence

from nats.js import JetStreamContext
from switchboard_contracts import BusError, ErrorCode, InvalidIdError, streams, subjects
from switchboard_contracts.ids import uuid5_text, validate_user_id
from switchboard_contracts.notify import (
    Notification,
    NotificationType,
    NotifySendReply,
    NotifySendRequest,
)
from switchboard_runtime.messaging.publish_retry import PublishRetry
from switchboard_runtime.messaging.sequencer import Entry, SubjectSequencer
from switchboard_runtime.messaging.stream_pipeline import StreamPipeline

from switchboard_notification.metrics import SENDS

__all__ = ["NotificationSender", "broadcast_notification_id"]

_BROADCAST_NAMESPACE = uuid.UUID("3c0d2b6e-96a4-4a55-8f3e-0c8f3a1b7d21")


def broadcast_notification_id(broadcast_id: str, user_id: str) -> str:
    """Stable per (broadcast, user): a broadcast expanded twice stores each entry once."""
    return uuid5_text(_BROADCAST_NAMESPACE, f"{broadcast_id}\x00{user_id}")


class NotificationSender:
    def __init__(
        self,
        js: JetStreamContext,
        stored_last_cursor: Callable[[str], Awaitable[int]],
        retry: PublishRetry | None = None,
        pipeline: StreamPipeline | None = None,
        stored_last_cursors: Callable[[list[str]], Awaitable[dict[str, int]]] | None = None,
    ) -> None:
        """``pipeline``: what ``deliver_many`` sends through (without one, entry by entry);
        ``stored_last_cursors``: ``stored_last_cursor`` for a page of users at once."""
        self._sequencer = SubjectSequencer(
            js,
            streams.NOTIFY.name,
            Notification,
            field="cursor",
            subject_of=subjects.notify_user,
            stored_last=stored_last_cursor,
            retry=retry,
            pipeline=pipeline,
            stored_last_many=stored_last_cursors,
        )

    async def send(self, request: NotifySendRequest) -> NotifySendReply:
        try:
            validate_user_id(request.user_id)
        except InvalidIdError as err:
            return NotifySendReply(error=BusError(code=ErrorCode.INVALID_USER, message=str(err)))
        notification = await self.deliver(
            request.user_id,
            str(uuid.uuid4()),
            request.type,
            request.title,
            request.message,
        )
        return NotifySendReply(notification=notification)

    async def deliver(
        self,
        user_id: str,
        notification_id: str,
        kind: NotificationType,
        title: str,
        message: str,
        *,
        broadcast_id: str | None = None,
        team: str | None = None,
        timestamp: int | None = None,
        context: Mapping[str, str] | None = None,
    ) -> Notification:
        """Append to the user's inbox; a retried ``notification_id`` is stored once.

        ``context``: the trace headers of the caller's span over a batch (a broadcast's page);
        then this entry gets no span of its own."""
        draft = Notification(
            id=notification_id,
            user_id=user_id,
            cursor=0,
            type=kind,
            title=title,
            message=message,
            timestamp=timestamp or int(time.time() * 1000),
            broadcast_id=broadcast_id,
            team=team,
        )
        stored = await self._sequencer.publish(user_id, draft, notification_id, context=context)
        SENDS.labels(kind).inc()
        return stored

    async def deliver_many(
        self,
        drafts: Sequence[Notification],
        *,
        concurrency: int,
        context: Mapping[str, str] | None = None,
    ) -> list[Notification]:
        """Append each draft (``cursor`` ignored) to its user's inbox, one per user, pipelined
        (``SubjectSequencer.publish_many``); a retried draft ``id`` is stored once."""
        stored = await self._sequencer.publish_many(
            [Entry(draft.user_id, draft, draft.id) for draft in drafts],
            concurrency=concurrency,
            context=context,
        )
        for kind, count in Counter(notification.type for notification in stored).items():
            SENDS.labels(kind).inc(count)
        return stored

    async def head(self, user_id: str) -> int:
        """The user's newest cursor."""
        return await self._sequencer.head(user_id)
