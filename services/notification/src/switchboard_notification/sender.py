"""Putting notifications into inboxes: one NOTIFY entry for a user, or one for a broadcast's
whole audience; its stream sequence is its cursor (increasing per user, not consecutive)."""

import time
import uuid

from nats.js import JetStreamContext
from nats.js.api import PubAck
from switchboard_contracts import BusError, ErrorCode, InvalidIdError, streams, subjects
from switchboard_contracts.ids import validate_user_id
from switchboard_contracts.notify import (
    BroadcastJob,
    Notification,
    NotificationType,
    NotifySendReply,
    NotifySendRequest,
    audience_of,
)
from switchboard_runtime.messaging.publish_retry import PublishRetry, publish_until_acked

from switchboard_notification.metrics import SENDS

__all__ = ["NotificationIdError", "NotificationSender"]


class NotificationIdError(RuntimeError):
    """A notification id already stored for another user."""


class NotificationSender:
    def __init__(
        self,
        js: JetStreamContext,
        retry: PublishRetry | None = None,
    ) -> None:
        self._js = js
        self._retry = retry or PublishRetry()

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
    ) -> Notification:
        """Append to the user's inbox; a retried ``notification_id`` is stored once (within the
        stream's duplicate window), and answered with the cursor it was stored at."""
        draft = Notification(
            id=notification_id,
            user_id=user_id,
            cursor=0,
            type=kind,
            title=title,
            message=message,
            timestamp=int(time.time() * 1000),
        )
        stored = await self._store(subjects.notify_user(user_id), draft)
        if stored.duplicate:
            await self._same_user(stored.seq, user_id, notification_id)
        return draft.model_copy(update={"cursor": stored.seq})

    async def _same_user(self, stream_seq: int, user_id: str, notification_id: str) -> None:
        """A repeated id is answered with the entry first stored under it; that one must be the
        same user's (ids deduplicate stream-wide)."""
        stored = await self._js.get_msg(streams.NOTIFY.name, stream_seq)
        if stored.subject != subjects.notify_user(user_id):
            raise NotificationIdError(f"notification id {notification_id!r} is already used")

    async def deliver_audience(self, job: BroadcastJob) -> Notification:
        """Store a broadcast once for its whole audience (``notify.audience.<audience>``), with
        the job's id as message id: a job taken again stores it once."""
        audience = audience_of(job.team)
        draft = Notification(
            id=job.id,
            user_id="",
            cursor=0,
            type=job.type,
            title=job.title,
            message=job.message,
            timestamp=job.timestamp,
            broadcast_id=job.id,
            team=job.team,
            audience=audience,
        )
        stored = await self._store(subjects.notify_audience(audience), draft)
        return draft.model_copy(update={"cursor": stored.seq})

    async def _store(self, subject: str, draft: Notification) -> PubAck:
        """Publish ``draft`` on ``subject`` until acked, its id as message id; counted."""
        ack = await publish_until_acked(
            self._js,
            subject,
            draft.encode(),
            stream=streams.NOTIFY.name,
            headers={"Nats-Msg-Id": draft.id},
            retry=self._retry,
        )
        SENDS.labels(draft.type).inc()
        return ack

    async def newest_position(self) -> int:
        """The NOTIFY stream's last sequence: every entry in any inbox now is at or below it."""
        info = await self._js.stream_info(streams.NOTIFY.name)
        return int(info.state.last_seq)
