"""Broadcasts: accepted durably at once, then expanded into one inbox entry per recipient.

Accepting stores a job in the NOTIFY_JOBS work queue and answers. Any notification instance
takes the job, pages through the recipients (every known user, or a team's members) and appends
an entry to each one's inbox with an id derived from (broadcast, user), so a job taken again
after a crash stores each entry once; the job is acked when every recipient has it.

A page's entries are published pipelined (``publish_many``): the whole page in flight at once,
each entry with its message id, while the next page is already being fetched; an entry's cursor
is its stream sequence, so no entry waits for another. Entries not acked (silence, an error)
are then published one by one, ``BROADCAST_CONCURRENCY`` at a time, with the same id.
One span covers a page (its context is stored with every entry) rather than one span per
entry; the pages' spans are children of the job's, which continues the trace of the request
that accepted it.

A job is never redelivered forever nor dropped: an undecodable one goes to the DEAD_LETTERS
stream at once; one whose expansion fails for a reason that is not transient (``job_fault``)
on its ``max_attempts``-th delivery or later goes there too, with the reason, and is then acked.
Transient failures (persistence or JetStream unavailable) are taken again, however often.
"""

import asyncio
import contextlib
import logging
import time
import uuid

import nats.errors
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.errors import APIError, NotFoundError
from pydantic import ValidationError
from switchboard_contracts import BusError, ErrorCode, InvalidIdError, endpoints, streams, subjects
from switchboard_contracts.dead_letters import DeadLetterKind
from switchboard_contracts.ids import validate_team_id
from switchboard_contracts.notify import (
    MAX_USERS_PAGE,
    BroadcastJob,
    BroadcastReply,
    BroadcastRequest,
    Notification,
    UsersRequest,
)
from switchboard_runtime import (
    Bus,
    PublishRetry,
    PublishUnavailableError,
    ensure_consumer,
    publish_until_acked,
)
from switchboard_runtime.messaging.consumer_lag import delivery_count
from switchboard_runtime.messaging.dead_letters import DeadLetters, Fault, describe_error
from switchboard_runtime.telemetry.batch_tracing import producer_batch_span
from switchboard_runtime.telemetry.logs import log_failure
from switchboard_runtime.telemetry.tracing import consumer_span

from switchboard_notification.metrics import BROADCASTS
from switchboard_notification.sender import NotificationSender, broadcast_notification_id

__all__ = ["BroadcastWorker", "RecipientsError", "accept_broadcast", "job_fault"]

log = logging.getLogger(__name__)

RETRY_DELAY_SECONDS = 1.0


class RecipientsError(RuntimeError):
    """Persistence did not list a job's recipients; ``transient`` unless it refused the query."""

    def __init__(self, error: BusError) -> None:
        super().__init__(f"listing recipients failed: {error.code.value}: {error.message}")
        self.transient = error.code is ErrorCode.UNAVAILABLE


def job_fault(err: BaseException) -> str | None:
    """Why a job's expansion failed, when the reason may lie in the job (a short text, never
    its content); None when it is transient (persistence, NATS or JetStream unavailable, a
    timeout), which never sends a job to dead letters."""
    if isinstance(err, RecipientsError):
        return None if err.transient else str(err)
    if isinstance(err, APIError) and err.code == 400:
        return f"JetStream refused a publish: {err.err_code} {err.description or ''}".strip()
    if isinstance(err, (PublishUnavailableError, nats.errors.Error, TimeoutError, OSError)):
        return None
    return describe_error(err)


async def accept_broadcast(
    js: JetStreamContext, retry: PublishRetry, request: BroadcastRequest
) -> BroadcastReply:
    if request.team is not None:
        try:
            validate_team_id(request.team)
        except InvalidIdError as err:
            return BroadcastReply(error=BusError(code=ErrorCode.INVALID_FRAME, message=str(err)))
    job = BroadcastJob(
        id=str(uuid.uuid4()),
        team=request.team,
        type=request.type,
        title=request.title,
        message=request.message,
        timestamp=int(time.time() * 1000),
    )
    await publish_until_acked(
        js,
        subjects.NOTIFY_JOB_BROADCAST,
        job.encode(),
        stream=streams.NOTIFY_JOBS.name,
        headers={"Nats-Msg-Id": job.id},
        retry=retry,
    )
    BROADCASTS.inc()
    return BroadcastReply(broadcast_id=job.id)


class BroadcastWorker:
    def __init__(
        self,
        bus: Bus,
        sender: NotificationSender,
        concurrency: int,
        timeout: float,
        *,
        max_attempts: int = 3,
        retry_delay: float = RETRY_DELAY_SECONDS,
        dead_letters: DeadLetters | None = None,
    ) -> None:
        self._bus = bus
        self._sender = sender
        self._concurrency = concurrency
        self._timeout = timeout
        self._max_attempts = max_attempts
        self._retry_delay = retry_delay
        self._dead_letters = dead_letters or DeadLetters(bus.js)
        self._stopping = False
        self.consuming = False

    async def run(self) -> None:
        js = self._bus.js
        spec = streams.NOTIFICATION_BROADCAST_CONSUMER
        while True:
            try:
                await ensure_consumer(js, spec)
                break
            except NotFoundError:
                log.info("waiting for stream %s", spec.stream)
                await asyncio.sleep(RETRY_DELAY_SECONDS)
        sub = await js.pull_subscribe_bind(durable=spec.durable, stream=spec.stream)
        self.consuming = True
        try:
            while not self._stopping:
                try:
                    [msg] = await sub.fetch(1, timeout=1.0)
                except (NatsTimeoutError, TimeoutError):  # nats-py raises either when idle
                    continue
                except Exception:
                    log.exception("fetching broadcast jobs failed; retrying")
                    await asyncio.sleep(RETRY_DELAY_SECONDS)
                    continue
                await self._take(msg)
        finally:
            # Before the connection drains: nats-py's drain waits for this subscription's queue,
            # where fetch leaves status messages nobody takes, and stop then hung until killed.
            await sub.unsubscribe()

    def stop(self) -> None:
        self._stopping = True

    async def _take(self, msg: Msg) -> None:
        attempts = delivery_count(msg.reply)
        try:
            job = BroadcastJob.decode(msg.data)
        except ValidationError as err:
            log_failure(log, err, "an undecodable broadcast job goes to dead letters")
            await self._dead_letter(msg, DeadLetterKind.UNDECODABLE, describe_error(err), attempts)
            return
        try:
            # The expansion continues the request's trace (recorded or not as the gateway
            # decided); without it every page would start a trace of its own, recorded at the
            # sampler's ratio, and a recorded page costs every consumer a span per entry.
            with consumer_span(
                msg.subject, msg.headers, group=streams.NOTIFICATION_BROADCAST_CONSUMER.durable
            ):
                count = await self.expand(job, msg)
        except Exception as err:
            fault = job_fault(err)
            if fault is not None and attempts >= self._max_attempts:
                log.exception(
                    "broadcast %s failed on delivery %d (%s); it goes to dead letters",
                    job.id,
                    attempts,
                    fault,
                )
                await self._dead_letter(msg, DeadLetterKind.FAILED, fault, attempts)
                return
            log.exception("expanding broadcast %s failed; it will be taken again", job.id)
            await msg.nak(delay=self._retry_delay)
            return
        await msg.ack()
        log.info("broadcast %s reached %d users", job.id, count)

    async def _dead_letter(
        self, msg: Msg, kind: DeadLetterKind, reason: str, attempts: int
    ) -> None:
        """Store the job in DEAD_LETTERS, then ack it; when it cannot be stored, it is taken
        again later (nak)."""
        try:
            await self._dead_letters.publish(msg, kind=kind, reason=reason, attempts=attempts)
        except Exception:
            log.exception("storing a dead letter failed; the job will be taken again")
            await msg.nak(delay=self._retry_delay)
            return
        await msg.ack()

    async def process_again(self, data: bytes, headers: dict[str, str]) -> Fault | None:
        """A dead job replayed (``switchboard-dead-letters replay``): expanded once. None when
        every recipient has it; the fault when it fails again for a reason that may lie in the
        job; raises when it fails for a transient one (the dead letter is kept)."""
        del headers
        try:
            job = BroadcastJob.decode(data)
        except ValidationError as err:
            return DeadLetterKind.UNDECODABLE, describe_error(err)
        try:
            await self.expand(job)
        except Exception as err:
            fault = job_fault(err)
            if fault is None:
                raise
            return DeadLetterKind.FAILED, fault
        return None

    async def expand(self, job: BroadcastJob, msg: Msg | None = None) -> int:
        """Append the broadcast to every recipient's inbox; returns how many."""
        count = 0
        upcoming: asyncio.Task[list[str]] | None = asyncio.create_task(self._page(job, None))
        try:
            while upcoming is not None:
                user_ids = await upcoming
                upcoming = None
                if len(user_ids) == MAX_USERS_PAGE:  # fetched while this page is published
                    upcoming = asyncio.create_task(self._page(job, user_ids[-1]))
                await self._deliver_page(job, user_ids)
                count += len(user_ids)
                if msg is not None:
                    await msg.in_progress()  # a long expansion keeps the job
            return count
        finally:
            if upcoming is not None:
                upcoming.cancel()
                with contextlib.suppress(BaseException):
                    await upcoming

    async def _page(self, job: BroadcastJob, after: str | None) -> list[str]:
        page = await self._bus.ask(
            endpoints.PERSISTENCE_NOTIFY_USERS,
            UsersRequest(team=job.team, after=after, limit=MAX_USERS_PAGE),
            timeout=self._timeout,
        )
        if page.error is not None:
            raise RecipientsError(page.error)
        return page.user_ids

    async def _deliver_page(self, job: BroadcastJob, user_ids: list[str]) -> None:
        if not user_ids:
            return
        with producer_batch_span(
            subjects.notify_user(user_ids[0]),
            len(user_ids),
            {"switchboard.broadcast.id": job.id},
        ) as context:
            await self._sender.deliver_many(
                [
                    Notification(
                        id=broadcast_notification_id(job.id, user_id),
                        user_id=user_id,
                        cursor=0,
                        type=job.type,
                        title=job.title,
                        message=job.message,
                        timestamp=job.timestamp,
                        broadcast_id=job.id,
                        team=job.team,
                    )
                    for user_id in user_ids
                ],
                concurrency=self._concurrency,
                context=context,
            )
