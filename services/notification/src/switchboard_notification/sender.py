"""Putting notifications into users' inboxes: one NOTIFY entry each, whose stream sequence is
its cursor (increasing per user, not consecutive)."""

import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence

from nats.js import JetStreamContext
from switchboard_contracts import BusError, ErrorCode, InvalidIdError, streams, subjects
from switchboard_contracts.ids import uuid5_text, validate_user_id
from switchboard_contracts.notify import (
    Notification,
    NotificationType,
    NotifySendReply,
    NotifySendRequest,
)
from switchboard_runtime.messaging.publish_many import Outgoing, publish_many
from switchboard_runtime.messaging.publish_retry import PublishRetry, publish_until_acked
from switchboard_runtime.messaging.stream_pipeline import StreamPipeline

from switchboard_notification.metrics import SENDS

__all__ = ["NotificationIdError", "NotificationSender", "broadcast_notification_id"]

_BROADCAST_NAMESPACE = uuid.UUID("3c0d2b6e-96a4-4a55-8f3e-0c8f3a1b7d21")


class NotificationIdError(RuntimeError):
    """A notification id already stored for another user."""


def broadcast_notification_id(broadcast_id: str, user_id: str) -> str:
    """Stable per (broadcast, user): a broadcast expanded twice stores each entry once."""
    return uuid5_text(_BROADCAST_NAMESPACE, f"{broadcast_id}\x00{user_id}")


class NotificationSender:
    def __init__(
        self,
        js: JetStreamContext,
        retry: PublishRetry | None = None,
        pipeline: StreamPipeline | None = None,
    ) -> None:
        """``pipeline``: what ``deliver_many`` sends through (without one, entry by entry)."""
        self._js = js
        self._retry = retry or PublishRetry()
        self._pipeline = pipeline

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
        """Append to the user's inbox; a retried ``notification_id`` is stored once (within the
        stream's duplicate window), and answered with the cursor it was stored at.

        ``context``: the trace headers of the caller's span over a batch; then this entry gets
        no span of its own."""
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
        ack = await publish_until_acked(
            self._js,
            subjects.notify_user(user_id),
            draft.encode(),
            stream=streams.NOTIFY.name,
            headers={**(context or {}), "Nats-Msg-Id": notification_id},
            retry=self._retry,
            traced=context is None,
        )
        if ack.duplicate:
            await self._same_user(ack.seq, user_id, notification_id)
        SENDS.labels(kind).inc()
        return draft.model_copy(update={"cursor": ack.seq})

    async def _same_user(self, stream_seq: int, user_id: str, notification_id: str) -> None:
        """A repeated id is answered with the entry first stored under it; that one must be the
        same user's (ids deduplicate stream-wide)."""
        stored = await self._js.get_msg(streams.NOTIFY.name, stream_seq)
        if stored.subject != subjects.notify_user(user_id):
            raise NotificationIdError(f"notification id {notification_id!r} is already used")

    async def deliver_many(
        self,
        drafts: Sequence[Notification],
        *,
        concurrency: int,
        context: Mapping[str, str] | None = None,
    ) -> list[Notification]:
        """Append each draft (``cursor`` 0) to its user's inbox, pipelined (``publish_many``);
        a retried draft ``id`` is stored once. Returns them with their cursors, in order."""
        seqs = await publish_many(
            self._js,
            self._pipeline,
            [
                Outgoing(subjects.notify_user(draft.user_id), draft.encode(), draft.id)
                for draft in drafts
            ],
            stream=streams.NOTIFY.name,
            retry=self._retry,
            concurrency=concurrency,
            context=context,
        )
        for kind, count in Counter(draft.type for draft in drafts).items():
            SENDS.labels(kind).inc(count)
        return [
            draft.model_copy(update={"cursor": seq})
            for draft, seq in zip(drafts, seqs, strict=True)
        ]

    async def newest_position(self) -> int:
        """The NOTIFY stream's last sequence: every entry in any inbox now is at or below it."""
        info = await self._js.stream_info(streams.NOTIFY.name)
        return int(info.state.last_seq)
