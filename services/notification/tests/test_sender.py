"""Per-user inbox cursors on a real JetStream: gap-free under concurrent notification instances."""

import asyncio
import secrets
from collections.abc import AsyncIterator

import nats
import pytest
from nats.aio.client import Client
from switchboard_contracts import streams
from switchboard_contracts.notify import NotificationType
from switchboard_devstack.stores import Stores
from switchboard_notification.sender import NotificationSender, broadcast_notification_id
from switchboard_runtime import ensure_stream
from switchboard_runtime.messaging.sequencer import SequencerError

pytestmark = pytest.mark.component


@pytest.fixture
async def connections(stores: Stores) -> AsyncIterator[list[Client]]:
    clients = [await nats.connect(stores.nats_url) for _ in range(2)]
    await ensure_stream(clients[0].jetstream(), streams.NOTIFY)
    yield clients
    for client in clients:
        await client.close()


async def nothing_stored(user_id: str) -> int:
    del user_id
    return 0


async def test_two_instances_give_each_user_a_gap_free_cursor(connections: list[Client]) -> None:
    users = [f"u-{secrets.token_hex(4)}" for _ in range(2)]
    senders = [NotificationSender(c.jetstream(), nothing_stored) for c in connections]
    stored = await asyncio.gather(
        *(
            senders[i % 2].deliver(
                users[i % 3 % 2], f"{users[0]}-{i}", NotificationType.INFO, "t", "m"
            )
            for i in range(40)
        )
    )
    for user in users:
        mine = sorted(n.cursor for n in stored if n.user_id == user)
        assert mine == list(range(1, len(mine) + 1))
    assert await senders[0].head(users[0]) == len([n for n in stored if n.user_id == users[0]])


async def test_a_broadcast_entry_delivered_twice_is_stored_once(connections: list[Client]) -> None:
    user = f"u-{secrets.token_hex(4)}"
    first, second = (NotificationSender(c.jetstream(), nothing_stored) for c in connections)
    entry_id = broadcast_notification_id("b-1", user)
    original = await first.deliver(user, entry_id, NotificationType.INFO, "t", "m")
    again = await second.deliver(user, entry_id, NotificationType.INFO, "t", "m")
    assert (again.id, again.cursor) == (original.id, original.cursor) == (entry_id, 1)
    assert await first.head(user) == 1


async def test_a_user_unknown_to_the_stream_continues_from_what_persistence_stored(
    connections: list[Client],
) -> None:
    async def twelve_stored(user_id: str) -> int:
        del user_id
        return 12

    sender = NotificationSender(connections[0].jetstream(), twelve_stored)
    user = f"u-{secrets.token_hex(4)}"
    entry = await sender.deliver(user, user, NotificationType.INFO, "t", "m")
    assert entry.cursor == 13


def test_broadcast_entry_ids_are_stable_per_user() -> None:
    assert broadcast_notification_id("b", "alice") == broadcast_notification_id("b", "alice")
    assert broadcast_notification_id("b", "alice") != broadcast_notification_id("b", "bob")


async def test_one_instance_orders_a_burst_for_one_user_without_giving_up(
    connections: list[Client],
) -> None:
    user = f"u-{secrets.token_hex(4)}"
    sender = NotificationSender(connections[0].jetstream(), nothing_stored)
    stored = await asyncio.gather(
        *(sender.deliver(user, f"{user}-{i}", NotificationType.INFO, "t", "m") for i in range(150))
    )
    assert sorted(n.cursor for n in stored) == list(range(1, 151))


async def test_a_message_id_used_for_another_user_is_refused(connections: list[Client]) -> None:
    alice, bob = (f"u-{secrets.token_hex(4)}" for _ in range(2))
    sender = NotificationSender(connections[0].jetstream(), nothing_stored)
    await sender.deliver(alice, f"{alice}-shared", NotificationType.INFO, "t", "m")
    with pytest.raises(SequencerError, match="already used"):
        await sender.deliver(bob, f"{alice}-shared", NotificationType.INFO, "t", "m")
