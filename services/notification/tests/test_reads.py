"""A read's new unread count reaches the user's live subject, marked, and the legacy one."""

import asyncio
import secrets

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg
from switchboard_contracts import subjects
from switchboard_contracts.notify import (
    EVENT_HEADER,
    UNREAD_EVENT,
    MarkReadReply,
    MarkReadRequest,
    ReadRequest,
    UnreadEvent,
)
from switchboard_notification.reads import ReadHandler
from switchboard_notification.sender import NotificationSender
from switchboard_runtime import Bus

pytestmark = pytest.mark.component

WAIT = 5.0


async def test_a_read_publishes_the_unread_count_on_the_live_and_the_legacy_subject(
    nc: Client,
) -> None:
    user = f"u-{secrets.token_hex(4)}"

    async def persistence(msg: Msg) -> None:
        request = MarkReadRequest.decode(msg.data)
        assert (request.user_id, request.notification_id) == (user, "n-1")
        await msg.respond(MarkReadReply(unread_count=4, version=7).encode())

    await nc.subscribe(subjects.NOTIFY_MARK_READ, cb=persistence)
    live = await nc.subscribe(subjects.notify_live(user))
    legacy = await nc.subscribe(subjects.notify_unread(user))
    handler = ReadHandler(Bus.attach(nc), NotificationSender(nc.jetstream()), timeout=WAIT)

    reply = await handler.read(ReadRequest(user_id=user, notification_id="n-1"))

    assert reply.unread_count == 4
    expected = UnreadEvent(user_id=user, unread_count=4, version=7)
    on_live = await live.next_msg(timeout=WAIT)
    assert on_live.headers == {EVENT_HEADER: UNREAD_EVENT}
    assert UnreadEvent.decode(on_live.data) == expected
    on_legacy = await legacy.next_msg(timeout=WAIT)
    assert not on_legacy.headers  # what gateways of the previous release decode
    assert UnreadEvent.decode(on_legacy.data) == expected
    await asyncio.gather(live.unsubscribe(), legacy.unsubscribe())
