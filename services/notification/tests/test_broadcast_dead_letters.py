"""Broadcast jobs that cannot be expanded on a real JetStream: an undecodable job and one that
fails for a reason that is not transient on every delivery go to DEAD_LETTERS (and leave the
work queue); one that fails transiently is taken again until it succeeds; a dead job replayed
once its cause is fixed reaches every recipient."""

import asyncio
import secrets
from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import RawStreamMsg
from nats.js.errors import NotFoundError
from switchboard_contracts import BusError, ErrorCode, streams, subjects
from switchboard_contracts.dead_letters import (
    ATTEMPTS_HEADER,
    KIND_HEADER,
    REASON_HEADER,
    SEQUENCE_HEADER,
    DeadLetterReplayReply,
    DeadLetterReplayRequest,
)
from switchboard_contracts.notify import (
    BroadcastJob,
    NotificationType,
    UsersReply,
    UsersRequest,
)
from switchboard_devstack.polling import until
from switchboard_devstack.stores import Stores
from switchboard_notification.broadcast import BroadcastWorker, RecipientsError, job_fault
from switchboard_notification.sender import NotificationSender
from switchboard_runtime import Bus, PublishUnavailableError, ensure_stream
from switchboard_runtime.messaging.dead_letters import DeadLetters, serve_replays
from switchboard_runtime.messaging.stream_pipeline import StreamPipeline

WAIT = 15.0


def test_only_failures_that_may_lie_in_the_job_can_make_it_a_dead_letter() -> None:
    unavailable = RecipientsError(BusError(code=ErrorCode.UNAVAILABLE, message="timeout"))
    refused = RecipientsError(BusError(code=ErrorCode.INTERNAL, message="query failed"))
    assert job_fault(unavailable) is None
    assert job_fault(PublishUnavailableError("not acked")) is None
    assert job_fault(nats.errors.TimeoutError()) is None
    assert job_fault(ConnectionResetError()) is None
    assert job_fault(refused) == "listing recipients failed: internal: query failed"
    assert job_fault(ValueError("the title 'secret' is ...")) == "ValueError"  # never the text


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
    users = [f"u{token}-{n}" for n in range(3)]
    unavailable_left = {"count": 4}  # more failures than max_attempts: transient ones never count
    refusing = {"on": True}

    async def list_users(msg: Msg) -> None:
        request = UsersRequest.decode(msg.data)
        if request.team == broken and refusing["on"]:
            reply = UsersReply(error=BusError(code=ErrorCode.INTERNAL, message="query failed"))
        elif request.team == flaky and unavailable_left["count"]:
            unavailable_left["count"] -= 1
            reply = UsersReply(error=BusError(code=ErrorCode.UNAVAILABLE, message="down"))
        else:
            page = [u for u in users if request.after is None or u > request.after]
            reply = UsersReply(user_ids=page[: request.limit])
        await msg.respond(reply.encode())

    listing = await nc.subscribe(subjects.NOTIFY_USERS, cb=list_users)
    js = nc.jetstream()
    sender = NotificationSender(js, pipeline=StreamPipeline(nc))
    dead_letters = DeadLetters(js)
    worker = BroadcastWorker(
        Bus.attach(nc), sender, 16, 5.0, max_attempts=2, retry_delay=0.05, dead_letters=dead_letters
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

        async def flaky_delivered() -> bool:
            info = await js.stream_info(
                streams.NOTIFY.name, subjects_filter=subjects.notify_user(users[0])
            )
            return (info.state.subjects or {}).get(subjects.notify_user(users[0]), 0) >= 1

        await until(flaky_delivered, "the job that failed transiently expanded", timeout=WAIT)
        assert await dead_letter_of(nc, transient.seq) is None
        assert unavailable_left["count"] == 0

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
        assert second_headers[REASON_HEADER] == "listing recipients failed: internal: query failed"
        for sequence in (undecodable.seq, failing.seq):  # acked: gone from the work queue
            with pytest.raises(NotFoundError):
                await js.get_msg(streams.NOTIFY_JOBS.name, seq=sequence)

        refusing["on"] = False  # the cause fixed, the operator replays the job
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
        info = await js.stream_info(
            streams.NOTIFY.name, subjects_filter=subjects.notify_user(users[0])
        )
        assert (info.state.subjects or {})[subjects.notify_user(users[0])] == 2  # both jobs
        assert await dead_letter_of(nc, failing.seq) is None
    finally:
        worker.stop()
        await asyncio.wait_for(running, WAIT)
        await replays.unsubscribe()
        await listing.unsubscribe()
