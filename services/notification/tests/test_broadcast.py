"""Broadcast expansion on a real JetStream: pages published by the pool, a failed job taken
again stores each entry once."""

import asyncio
import secrets
from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from switchboard_contracts import BusError, ErrorCode, streams, subjects
from switchboard_contracts.notify import (
    MAX_USERS_PAGE,
    BroadcastJob,
    Notification,
    NotificationType,
    UsersReply,
    UsersRequest,
)
from switchboard_devstack.stores import Stores
from switchboard_notification.broadcast import BroadcastWorker
from switchboard_notification.sender import NotificationSender, broadcast_notification_id
from switchboard_runtime import Bus, ensure_stream
from switchboard_runtime.messaging.stream_pipeline import StreamPipeline

pytestmark = pytest.mark.component

WAIT = 10.0
USERS = MAX_USERS_PAGE + 50  # two pages: the second is fetched while the first is published


@pytest.fixture
async def nc(stores: Stores) -> AsyncIterator[Client]:
    client = await nats.connect(stores.nats_url)
    await ensure_stream(client.jetstream(), streams.NOTIFY)
    yield client
    await client.close()


def job(broadcast_id: str) -> BroadcastJob:
    return BroadcastJob(
        id=broadcast_id, type=NotificationType.INFO, title="t", message="m", timestamp=1
    )


async def test_a_broadcast_taken_again_after_a_failed_page_stores_each_entry_once(
    nc: Client,
) -> None:
    prefix = f"b{secrets.token_hex(3)}"
    users = [f"{prefix}-{n:05d}" for n in range(USERS)]
    failures = {"second page": 1}

    async def list_users(msg: Msg) -> None:  # what persistence answers, once failing page two
        request = UsersRequest.decode(msg.data)
        if request.after is not None and failures["second page"]:
            failures["second page"] -= 1
            error = BusError(code=ErrorCode.UNAVAILABLE, message="persistence is down")
            await msg.respond(UsersReply(error=error).encode())
            return
        page = [u for u in users if request.after is None or u > request.after]
        await msg.respond(UsersReply(user_ids=page[: request.limit]).encode())

    sub = await nc.subscribe(subjects.NOTIFY_USERS, cb=list_users)
    js = nc.jetstream()
    sender = NotificationSender(js, pipeline=StreamPipeline(nc))
    worker = BroadcastWorker(Bus.attach(nc), sender, 16, 5.0)
    try:
        with pytest.raises(RuntimeError, match="persistence is down"):
            await worker.expand(job(f"{prefix}-one"))
        assert await worker.expand(job(f"{prefix}-one")) == USERS  # the job taken again
        assert await worker.expand(job(f"{prefix}-two")) == USERS
    finally:
        await sub.unsubscribe()

    info = await js.stream_info(streams.NOTIFY.name, subjects_filter=subjects.NOTIFY_USER_ALL)
    counts = info.state.subjects or {}
    assert {u: counts.get(subjects.notify_user(u)) for u in users} == dict.fromkeys(users, 2)
    for user in (users[0], users[MAX_USERS_PAGE - 1], users[MAX_USERS_PAGE], users[-1]):
        last = Notification.decode(
            (await js.get_last_msg(streams.NOTIFY.name, subjects.notify_user(user))).data or b""
        )
        assert last.id == broadcast_notification_id(f"{prefix}-two", user)


async def test_a_broadcast_s_entries_continue_the_trace_of_the_request_that_accepted_it(
    nc: Client,
) -> None:
    prefix = f"t{secrets.token_hex(3)}"
    users = [f"{prefix}-{n}" for n in range(3)]

    async def list_users(msg: Msg) -> None:
        request = UsersRequest.decode(msg.data)
        page = [u for u in users if request.after is None or u > request.after]
        await msg.respond(UsersReply(user_ids=page[: request.limit]).encode())

    sub = await nc.subscribe(subjects.NOTIFY_USERS, cb=list_users)
    js = nc.jetstream()
    await ensure_stream(js, streams.NOTIFY_JOBS)
    sender = NotificationSender(js, pipeline=StreamPipeline(nc))
    worker = BroadcastWorker(Bus.attach(nc), sender, 16, 5.0)
    running = asyncio.create_task(worker.run())
    trace_id = secrets.token_hex(16)
    try:
        await js.publish(
            subjects.NOTIFY_JOB_BROADCAST,
            job(f"{prefix}-job").encode(),
            stream=streams.NOTIFY_JOBS.name,
            headers={"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-00"},
        )
        entries = await js.subscribe(subjects.notify_user(users[-1]), ordered_consumer=True)
        entry = await entries.next_msg(timeout=WAIT)
    finally:
        worker.stop()
        await asyncio.wait_for(running, WAIT)
        await sub.unsubscribe()
    assert (entry.headers or {}).get("traceparent", "").split("-")[1] == trace_id
