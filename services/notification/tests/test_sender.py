"""Inbox entries on a real JetStream: a cursor is the entry's stream position, each entry is
stored once however often it is sent, under concurrent notification instances."""

import asyncio
import secrets
from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client
from switchboard_contracts import streams, subjects
from switchboard_contracts.notify import Notification, NotificationType
from switchboard_devstack.stores import Stores
from switchboard_notification.sender import NotificationIdError, NotificationSender
from switchboard_runtime import ensure_stream

pytestmark = pytest.mark.component


@pytest.fixture
async def connections(stores: Stores) -> AsyncIterator[list[Client]]:
    clients = [await nats.connect(stores.nats_url) for _ in range(2)]
    await ensure_stream(clients[0].jetstream(), streams.NOTIFY)
    yield clients
    for client in clients:
        await client.close()


async def stored_at(nc: Client, cursor: int) -> tuple[str, Notification]:
    """The stream's message at ``cursor``: its subject and entry."""
    message = await nc.jetstream().get_msg(streams.NOTIFY.name, cursor)
    return message.subject or "", Notification.decode(message.data or b"")


async def test_a_cursor_is_the_entrys_position_in_the_stream(connections: list[Client]) -> None:
    user = f"u-{secrets.token_hex(4)}"
    sender = NotificationSender(connections[0].jetstream())
    entry = await sender.deliver(user, f"{user}-1", NotificationType.INFO, "t", "m")
    subject, stored = await stored_at(connections[0], entry.cursor)
    assert subject == subjects.notify_user(user)
    assert (stored.id, stored.cursor) == (entry.id, 0)  # stored without it: readers add it
    assert await sender.newest_position() >= entry.cursor


async def test_two_instances_give_each_user_increasing_distinct_cursors(
    connections: list[Client],
) -> None:
    users = [f"u-{secrets.token_hex(4)}" for _ in range(2)]
    senders = [NotificationSender(c.jetstream()) for c in connections]
    stored = await asyncio.gather(
        *(
            senders[i % 2].deliver(
                users[i % 3 % 2], f"{users[0]}-{i}", NotificationType.INFO, "t", "m"
            )
            for i in range(40)
        )
    )
    assert len({n.cursor for n in stored}) == 40
    for entry in stored:
        subject, body = await stored_at(connections[0], entry.cursor)
        assert (subject, body.id) == (subjects.notify_user(entry.user_id), entry.id)


async def test_an_entry_delivered_twice_is_stored_once(connections: list[Client]) -> None:
    user = f"u-{secrets.token_hex(4)}"
    first, second = (NotificationSender(c.jetstream()) for c in connections)
    entry_id = f"{user}-retried"
    original = await first.deliver(user, entry_id, NotificationType.INFO, "t", "m")
    again = await second.deliver(user, entry_id, NotificationType.INFO, "t", "m")
    assert (again.id, again.cursor) == (original.id, original.cursor)
    info = (
        await connections[0]
        .jetstream()
        .stream_info(streams.NOTIFY.name, subjects_filter=subjects.notify_user(user))
    )
    assert (info.state.subjects or {}).get(subjects.notify_user(user)) == 1


async def test_a_burst_for_one_user_is_stored_whole_in_increasing_positions(
    connections: list[Client],
) -> None:
    user = f"u-{secrets.token_hex(4)}"
    sender = NotificationSender(connections[0].jetstream())
    stored = await asyncio.gather(
        *(sender.deliver(user, f"{user}-{i}", NotificationType.INFO, "t", "m") for i in range(150))
    )
    assert len({n.cursor for n in stored}) == 150


async def test_a_message_id_used_for_another_user_is_refused(connections: list[Client]) -> None:
    alice, bob = (f"u-{secrets.token_hex(4)}" for _ in range(2))
    sender = NotificationSender(connections[0].jetstream())
    await sender.deliver(alice, f"{alice}-shared", NotificationType.INFO, "t", "m")
    with pytest.raises(NotificationIdError, match="already used"):
        await sender.deliver(bob, f"{alice}-shared", NotificationType.INFO, "t", "m")
