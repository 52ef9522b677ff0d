"""Inbox pages against real NATS and PostgreSQL: a page read right after a send includes every
entry the stream holds, even when the writer committed a newer one before an older one."""

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator

import asyncpg
import pytest
from switchboard_contracts import streams, subjects
from switchboard_contracts.notify import InboxRequest, Notification, NotificationType
from switchboard_devstack.stores import Stores
from switchboard_persistence.notify_requests import NotifyRequests
from switchboard_persistence.notify_store import NotifyStore
from switchboard_runtime import Bus, ServiceSettings, ensure_stream

pytestmark = pytest.mark.component


class WatchedStore(NotifyStore):
    """The real store, telling the test when a reader found entries missing."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__(pool)
        self.found_missing = asyncio.Event()

    async def count_between(self, user_id: str, first: int, last: int) -> int:
        count = await super().count_between(user_id, first, last)
        if count < last - first + 1:
            self.found_missing.set()
        return count


@pytest.fixture
def store(pool: asyncpg.Pool) -> WatchedStore:
    return WatchedStore(pool)


@pytest.fixture
async def bus(stores: Stores) -> AsyncIterator[Bus]:
    connected = Bus(ServiceSettings(nats_url=stores.nats_url), name="persistence-test")
    await connected.connect()
    await ensure_stream(connected.js, streams.NOTIFY)
    yield connected
    await connected.nc.close()


def entry(user: str, cursor: int) -> Notification:
    return Notification(
        id=f"{user}-{cursor}",
        user_id=user,
        cursor=cursor,
        type=NotificationType.INFO,
        title=f"t{cursor}",
        message="m",
        timestamp=cursor,
    )


async def test_an_inbox_page_waits_for_an_older_entry_committed_after_a_newer_one(
    bus: Bus, store: WatchedStore
) -> None:
    user = f"u-{secrets.token_hex(4)}"
    entries = [entry(user, cursor) for cursor in (1, 2, 3)]
    for sent in entries:
        await bus.js.publish(subjects.notify_user(user), sent.encode(), stream=streams.NOTIFY.name)
    await store.insert([entries[0], entries[2]])  # 3 committed while 2 is still being written
    reading = asyncio.create_task(NotifyRequests(bus, store).inbox(InboxRequest(user_id=user)))
    try:
        async with asyncio.timeout(5):
            await store.found_missing.wait()
        assert not reading.done(), "the page was answered without cursor 2"
        await store.insert([entries[1]])
        async with asyncio.timeout(5):
            page = await reading
    finally:
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading
    assert [item.notification.cursor for item in page.items] == [3, 2, 1]


async def test_an_undecodable_newest_entry_leaves_the_stored_inbox_readable(
    bus: Bus, store: WatchedStore
) -> None:
    """A poison entry (published past the edge; the writer dead-letters it) must not make the
    user's inbox fail: the page is what is stored."""
    user = f"u-{secrets.token_hex(4)}"
    first = entry(user, 1)
    await bus.js.publish(subjects.notify_user(user), first.encode(), stream=streams.NOTIFY.name)
    await store.insert([first])
    poison = await bus.js.publish(
        subjects.notify_user(user), b"\xff not json", stream=streams.NOTIFY.name
    )
    try:
        async with asyncio.timeout(5):
            page = await NotifyRequests(bus, store).inbox(InboxRequest(user_id=user))
    finally:  # not left for the writer tests that consume this stream next
        await bus.js.delete_msg(streams.NOTIFY.name, poison.seq)
    assert page.error is None
    assert [item.notification.cursor for item in page.items] == [1]
