"""Broadcasts: accepted durably at once, then stored once for their whole audience.

Accepting stores a job in the NOTIFY_JOBS work queue and answers. Any notification instance
takes the job and publishes the broadcast as ONE NOTIFY entry on ``notify.audience.<audience>``
(``all``, or ``team.<team>``) with the job's id as message id, so a job taken again after a
crash stores it once; the job is acked once JetStream has it. Whose inbox it is in is decided
by position when it is read: a user's membership intervals of the audience (persistence keeps
them; ``docs/architecture.md``, "Broadcasts"). The write side costs the same for 10 users or
1,000,000. The entry continues the trace of the request that accepted the job.

A job is never redelivered forever nor dropped: an undecodable one goes to the DEAD_LETTERS
stream at once; one whose publish fails for a reason that is not transient (``job_fault``)
on its ``max_attempts``-th delivery or later goes there too, with the reason, and is then acked.
Transient failures (JetStream unavailable) are taken again, however often.
"""

import asyncio
import logging
import time
import uuid

import nats.errors
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.errors import APIError, NotFoundError
from pydantic import ValidationError
from switchboard_contracts import BusError, ErrorCode, InvalidIdError, streams, subjects
from switchboard_contracts.dead_letters import DeadLetterKind
from switchboard_contracts.ids import validate_team_id
from switchboard_contracts.notify import BroadcastJob, BroadcastReply, BroadcastRequest
from switchboard_runtime import (
    Bus,
    PublishRetry,
    PublishUnavailableError,
    ensure_consumer,
    publish_until_acked,
)
from switchboard_runtime.messaging.ack_subject import delivery_count
from switchboard_runtime.messaging.dead_letters import DeadLetters, Fault, describe_error
from switchboard_runtime.telemetry.logs import log_failure
from switchboard_runtime.telemetry.tracing import consumer_span

from switchboard_notification.metrics import BROADCASTS
from switchboard_notification.sender import NotificationSender

__all__ = ["BroadcastWorker", "accept_broadcast", "job_fault"]

log = logging.getLogger(__name__)

RETRY_DELAY_SECONDS = 1.0


def job_fault(err: BaseException) -> str | None:
    """Why a job's expansion failed, when the reason may lie in the job (a short text, never
    its content); None when it is transient (persistence, NATS or JetStream unavailable, a
    timeout), which never sends a job to dead letters."""
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
        *,
        max_attempts: int = 3,
        retry_delay: float = RETRY_DELAY_SECONDS,
        dead_letters: DeadLetters | None = None,
    ) -> None:
        self._bus = bus
        self._sender = sender
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
        """Store the broadcast once for its audience; returns how many entries (one)."""
        del msg
        await self._sender.deliver_audience(job)
        return 1
