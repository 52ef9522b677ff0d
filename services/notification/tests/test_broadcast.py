"""Broadcasts on a real JetStream: a job becomes one entry for its whole audience, stored once
however often the job is taken, and continues the trace of the request that accepted it."""

import asyncio
import secrets
from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client
from switchboard_contracts import streams, subjects
from switchboard_contracts.notify import BroadcastJob, Notification, NotificationType
from switchboard_devstack.stores import Stores
from switchboard_notification.broadcast import BroadcastWorker
from switchboard_notification.sender import NotificationSender
from switchboard_runtime import Bus, ensure_stream

pytestmark = pytest.mark.component

WAIT = 10.0


@pytest.fixture
async def nc(stores: Stores) -> AsyncIterator[Client]:
    client = await nats.connect(stores.nats_url)
    await ensure_stream(client.jetstream(), streams.NOTIFY)
    yield client
    await client.close()


def job(broadcast_id: str, team: str | None = None) -> BroadcastJob:
    return BroadcastJob(
        id=broadcast_id, team=team, type=NotificationType.INFO, title="t", message="m", timestamp=1
    )


async def held_on(nc: Client, subject: str) -> int:
    info = await nc.jetstream().stream_info(streams.NOTIFY.name, subjects_filter=subject)
    return (info.state.subjects or {}).get(subject, 0)


async def test_a_broadcast_is_one_entry_for_its_audience_however_often_it_is_taken(
    nc: Client,
) -> None:
    team = f"t{secrets.token_hex(3)}"
    worker = BroadcastWorker(Bus.attach(nc), NotificationSender(nc.jetstream()))
    broadcast = job(f"b-{team}", team)
    assert await worker.expand(broadcast) == 1
    assert await worker.expand(broadcast) == 1  # the job taken again after a crash
    subject = subjects.notify_audience(f"team.{team}")
    assert await held_on(nc, subject) == 1
    stored = await nc.jetstream().get_last_msg(streams.NOTIFY.name, subject)
    entry = Notification.decode(stored.data or b"")
    assert (entry.id, entry.broadcast_id, entry.team, entry.audience) == (
        broadcast.id,
        broadcast.id,
        team,
        f"team.{team}",
    )
    assert (entry.user_id, entry.cursor) == ("", 0)  # every member's; readers add the rest


async def test_a_broadcast_to_everyone_goes_to_the_all_audience(nc: Client) -> None:
    before = await held_on(nc, subjects.notify_audience("all"))
    worker = BroadcastWorker(Bus.attach(nc), NotificationSender(nc.jetstream()))
    await worker.expand(job(f"b-{secrets.token_hex(3)}"))
    assert await held_on(nc, subjects.notify_audience("all")) == before + 1


async def test_a_broadcast_s_entry_continues_the_trace_of_the_request_that_accepted_it(
    nc: Client,
) -> None:
    team = f"t{secrets.token_hex(3)}"
    js = nc.jetstream()
    await ensure_stream(js, streams.NOTIFY_JOBS)
    worker = BroadcastWorker(Bus.attach(nc), NotificationSender(js))
    running = asyncio.create_task(worker.run())
    trace_id = secrets.token_hex(16)
    try:
        entries = await js.subscribe(
            subjects.notify_audience(f"team.{team}"), ordered_consumer=True
        )
        await js.publish(
            subjects.NOTIFY_JOB_BROADCAST,
            job(f"b-{team}", team).encode(),
            stream=streams.NOTIFY_JOBS.name,
            headers={"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-00"},
        )
        entry = await entries.next_msg(timeout=WAIT)
    finally:
        worker.stop()
        await asyncio.wait_for(running, WAIT)
    assert (entry.headers or {}).get("traceparent", "").split("-")[1] == trace_id
