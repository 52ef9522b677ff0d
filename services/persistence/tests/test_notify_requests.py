"""Inbox pages against real NATS and PostgreSQL: a page read right after a send includes every
entry the stream holds, even when the writer committed a newer one before an older one."""

import asyncio
import contextlib
import secrets

import asyncpg
import pytest
from switchboard_contracts import streams, subjects
from switchboard_contracts.notify import InboxRequest, Notification, NotificationType, at_position
from switchboard_persistence.notify_requests import NotifyRequests
from switchboard_persistence.notify_store import NotifyStore
from switchboard_runtime import Bus

pytestmark = pytest.mark.component


class WatchedStore(NotifyStore):
    """The real store, telling the test when a reader found entries missing."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__(pool)
        self.found_missing = asyncio.Event()
        self.expected = 0

    async def count_from(self, user_id: str, first: int) -> int:
        count = await super().count_from(user_id, first)
        if count < self.expected:
            self.found_missing.set()
        return count


@pytest.fixture
def store(pool: asyncpg.Pool) -> WatchedStore:
    return WatchedStore(pool)


def entry(user: str) -> Notification:
    return Notification(
        id=f"{user}-{secrets.token_hex(4)}",
        user_id=user,
        cursor=0,
        type=NotificationType.INFO,
        title="t",
        message="m",
        timestamp=1,
    )


async def published(bus: Bus, draft: Notification) -> Notification:
    """Stored in the stream as notification publishes it; given its position as readers do."""
    subject = subjects.notify_user(draft.user_id)
    ack = await bus.js.publish(subject, draft.encode(), stream=streams.NOTIFY.name)
    return at_position(draft, ack.seq)


async def test_an_inbox_page_waits_for_an_older_entry_committed_after_a_newer_one(
    bus: Bus, store: WatchedStore
) -> None:
    user = f"u-{secrets.token_hex(4)}"
    entries = [await published(bus, entry(user)) for _ in range(3)]
    store.expected = 3
    await store.insert([entries[0], entries[2]])  # 3 committed while 2 is still being written
    reading = asyncio.create_task(NotifyRequests(bus, store).inbox(InboxRequest(user_id=user)))
    try:
        async with asyncio.timeout(5):
            await store.found_missing.wait()
        assert not reading.done(), "the page was answered without the second entry"
        await store.insert([entries[1]])
        async with asyncio.timeout(5):
            page = await reading
    finally:
        reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reading
    assert [item.notification.cursor for item in page.items] == [e.cursor for e in entries[::-1]]


async def test_an_undecodable_newest_entry_leaves_the_stored_inbox_readable(
    bus: Bus, store: WatchedStore
) -> None:
    """A poison entry (published past the edge; the writer dead-letters it) must not make the
    user's inbox fail: the page is what is stored."""
    user = f"u-{secrets.token_hex(4)}"
    first = await published(bus, entry(user))
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
    assert [item.notification.cursor for item in page.items] == [first.cursor]
