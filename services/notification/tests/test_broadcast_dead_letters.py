"""Broadcast jobs that cannot be stored on a real JetStream: an undecodable job and one that
fails for a reason that is not transient on every delivery go to DEAD_LETTERS (and leave the
work queue); one that fails transiently is taken again until it succeeds; a dead job replayed
once its cause is fixed is stored. The failures come from a sender of our own that fails on
cue (``FailingSender``); the queue, the consumer and the dead letters are real."""

import asyncio
import secrets
from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client
from nats.js.api import RawStreamMsg
from nats.js.errors import NotFoundError
from switchboard_contracts import streams, subjects
from switchboard_contracts.dead_letters import (
    ATTEMPTS_HEADER,
    KIND_HEADER,
    REASON_HEADER,
    SEQUENCE_HEADER,
    DeadLetterReplayReply,
    DeadLetterReplayRequest,
)
from switchboard_contracts.notify import BroadcastJob, Notification, NotificationType
from switchboard_devstack.polling import until
from switchboard_devstack.stores import Stores
from switchboard_notification.broadcast import BroadcastWorker, job_fault
from switchboard_notification.sender import NotificationSender
from switchboard_runtime import Bus, PublishUnavailableError, ensure_stream
from switchboard_runtime.messaging.dead_letters import DeadLetters, serve_replays

WAIT = 15.0


def test_only_failures_that_may_lie_in_the_job_can_make_it_a_dead_letter() -> None:
    assert job_fault(PublishUnavailableError("not acked")) is None
    assert job_fault(nats.errors.TimeoutError()) is None
    assert job_fault(ConnectionResetError()) is None
    assert job_fault(ValueError("the title 'secret' is ...")) == "ValueError"  # never the text


class FailingSender(NotificationSender):
    """The real sender, failing on cue: for ``broken`` teams with a fault that lies in the job
    while ``refusing``; for ``flaky`` ones with JetStream unavailable ``unavailable`` times."""

    def __init__(self, nc: Client, broken: str, flaky: str) -> None:
        super().__init__(nc.jetstream())
        self.broken, self.flaky = broken, flaky
        self.refusing = True
        self.unavailable = 4  # more failures than max_attempts: transient ones never count

    async def deliver_audience(self, job: BroadcastJob) -> Notification:
        if job.team == self.broken and self.refusing:
            raise ValueError("refused")
        if job.team == self.flaky and self.unavailable:
            self.unavailable -= 1
            raise PublishUnavailableError("JetStream is down")
        return await super().deliver_audience(job)


@pytest.fixture
async def nc(stores: Stores) -> AsyncIterator[Client]:
    client = await nats.connect(stores.nats_url)
    await ensure_stream(client.jetstream(), streams.NOTIFY)
    await ensure_stream(client.jetstream(), streams.NOTIFY_JOBS)
    yield client
    await client.close()


def job(team: str) -> BroadcastJob:
    return BroadcastJob(
        id=f"job-{team}", team=team, type=NotificationType.INFO, title="t", message="m", timestamp=1
    )


async def dead_letter_of(nc: Client, origin_sequence: int) -> RawStreamMsg | None:
    js = nc.jetstream()
    sequence = 1
    while True:
        try:
            raw = await js.get_msg(
                streams.DEAD_LETTERS.name,
                seq=sequence,
                subject=subjects.dead_letter(streams.NOTIFY_JOBS.name),
                next=True,
            )
        except NotFoundError:
            return None
        assert raw.seq is not None
        sequence = raw.seq + 1
        if (raw.headers or {}).get(SEQUENCE_HEADER) == str(origin_sequence):
            return raw


@pytest.mark.component
async def test_broadcast_jobs_that_cannot_be_expanded_go_to_dead_letters(nc: Client) -> None:
    token = secrets.token_hex(3)
    broken, flaky = f"broken-{token}", f"flaky-{token}"
    js = nc.jetstream()
    sender = FailingSender(nc, broken, flaky)
    dead_letters = DeadLetters(js)
    worker = BroadcastWorker(
        Bus.attach(nc), sender, max_attempts=2, retry_delay=0.05, dead_letters=dead_letters
    )
    replays = await serve_replays(
        Bus.attach(nc), dead_letters, streams.NOTIFY_JOBS.name, worker.process_again
    )
    running = asyncio.create_task(worker.run())
    try:
        undecodable = await js.publish(
            subjects.NOTIFY_JOB_BROADCAST, b"not a job", stream=streams.NOTIFY_JOBS.name
        )
        failing = await js.publish(
            subjects.NOTIFY_JOB_BROADCAST, job(broken).encode(), stream=streams.NOTIFY_JOBS.name
        )
        transient = await js.publish(
            subjects.NOTIFY_JOB_BROADCAST, job(flaky).encode(), stream=streams.NOTIFY_JOBS.name
        )

        async def both_dead() -> bool:
            return (
                await dead_letter_of(nc, undecodable.seq) is not None
                and await dead_letter_of(nc, failing.seq) is not None
            )

        await until(both_dead, "two dead jobs", timeout=WAIT)

        async def stored(team: str) -> bool:
            subject = subjects.notify_audience(f"team.{team}")
            info = await js.stream_info(streams.NOTIFY.name, subjects_filter=subject)
            return (info.state.subjects or {}).get(subject, 0) == 1

        await until(lambda: stored(flaky), "the job that failed transiently stored", timeout=WAIT)
        assert await dead_letter_of(nc, transient.seq) is None
        assert sender.unavailable == 0

        first = await dead_letter_of(nc, undecodable.seq)
        assert first is not None
        first_headers = first.headers or {}
        assert first.data == b"not a job"
        assert (first_headers[KIND_HEADER], first_headers[ATTEMPTS_HEADER]) == ("undecodable", "1")
        second = await dead_letter_of(nc, failing.seq)
        assert second is not None
        second_headers = second.headers or {}
        assert second.data == job(broken).encode()
        assert (second_headers[KIND_HEADER], second_headers[ATTEMPTS_HEADER]) == ("failed", "2")
        assert second_headers[REASON_HEADER] == "ValueError"
        for sequence in (undecodable.seq, failing.seq):  # acked: gone from the work queue
            with pytest.raises(NotFoundError):
                await js.get_msg(streams.NOTIFY_JOBS.name, seq=sequence)

        sender.refusing = False  # the cause fixed, the operator replays the job
        reply = DeadLetterReplayReply.decode(
            (
                await nc.request(
                    subjects.dead_letter_replay(streams.NOTIFY_JOBS.name),
                    DeadLetterReplayRequest(sequence=second.seq or 0).encode(),
                    timeout=WAIT,
                )
            ).data
        )
        assert reply.replayed, reply
        assert await stored(broken)
        assert await dead_letter_of(nc, failing.seq) is None
    finally:
        worker.stop()
        await asyncio.wait_for(running, WAIT)
        await replays.unsubscribe()
