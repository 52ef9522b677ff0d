"""Replay planning without sockets: a fake log, live events pushed by hand."""

import asyncio
from collections.abc import Sequence

from switchboard_contracts.notify import Notification, NotificationType
from switchboard_gateway.notifications.events import Entry, InboxEvent, Reset, Unread
from switchboard_gateway.notifications.inbox_follower import PAGE_SIZE, Gone, InboxFollower

USER = "alice"


class FakeLog:
    """A user's inbox; entries below ``oldest`` are past retention."""

    def __init__(self) -> None:
        self.entries: list[Notification] = []
        self.oldest = 1
        self.reads = 0

    def publish(self, title: str = "") -> Entry:
        cursor = len(self.entries) + 1
        self.entries.append(
            Notification(
                id=f"n{cursor}",
                user_id=USER,
                cursor=cursor,
                type=NotificationType.INFO,
                title=title or f"t{cursor}",
                message="m",
                timestamp=cursor,
            )
        )
        return Entry(self.entries[-1])

    async def head(self, user_id: str) -> int:
        assert user_id == USER
        return len(self.entries)

    async def read(self, user_id: str, after: int, limit: int) -> list[Entry] | Gone:
        assert user_id == USER
        self.reads += 1
        if after + 1 < self.oldest:
            return Gone()
        return [Entry(n) for n in self.entries[after : after + limit]]


def cursors(events: Sequence[InboxEvent]) -> list[int]:
    return [e.cursor for e in events if isinstance(e, Entry)]


async def drain(follower: InboxFollower) -> list[InboxEvent]:
    """Everything the follower has to give now."""
    given: list[InboxEvent] = []
    while events := await follower.next(timeout=0.01):
        given += events
    return given


async def test_a_new_subscriber_starts_after_the_newest_entry_and_gets_live_ones() -> None:
    log = FakeLog()
    log.publish()
    follower = InboxFollower(log, USER)
    assert await follower.begin(None) is None
    follower.push(log.publish())
    follower.push(log.publish())
    assert cursors(await drain(follower)) == [2, 3]


async def test_missed_entries_come_first_in_order_then_live_ones_without_duplicates() -> None:
    log = FakeLog()
    for _ in range(5):
        log.publish()
    follower = InboxFollower(log, USER)
    await follower.begin(2)
    # published while the replay was being read: in the log and in the live queue
    follower.push(log.publish())
    follower.push(log.publish())
    given = await drain(follower)
    follower.push(log.publish())
    given += await drain(follower)
    assert cursors(given) == [3, 4, 5, 6, 7, 8]


async def test_a_gap_in_live_entries_is_filled_from_the_log() -> None:
    log = FakeLog()
    follower = InboxFollower(log, USER)
    await follower.begin(None)
    log.publish()  # its live event was lost (say, a bus reconnect)
    log.publish()
    follower.push(log.publish())
    assert cursors(await drain(follower)) == [1, 2, 3]


async def test_a_cursor_the_inbox_never_reached_resets_to_the_newest() -> None:
    log = FakeLog()
    log.publish()
    follower = InboxFollower(log, USER)
    reset = await follower.begin(99)
    assert isinstance(reset, Reset)
    assert reset.cursor == 1
    follower.push(log.publish())
    assert cursors(await drain(follower)) == [2]


async def test_a_cursor_past_retention_resets_once_and_goes_on_live() -> None:
    log = FakeLog()
    for _ in range(10):
        log.publish()
    log.oldest = 6
    follower = InboxFollower(log, USER)
    assert await follower.begin(2) is None
    given = await drain(follower)
    assert len(given) == 1
    assert isinstance(given[0], Reset)
    assert given[0].cursor == 10
    follower.push(log.publish())
    assert cursors(await drain(follower)) == [11]


async def test_a_long_replay_comes_in_pages() -> None:
    log = FakeLog()
    for _ in range(PAGE_SIZE * 2 + 5):
        log.publish()
    follower = InboxFollower(log, USER)
    await follower.begin(0)
    first = await follower.next(timeout=0.01)
    assert cursors(first) == list(range(1, PAGE_SIZE + 1))
    rest = await drain(follower)
    assert cursors(rest) == list(range(PAGE_SIZE + 1, PAGE_SIZE * 2 + 6))


async def test_a_subscriber_too_far_behind_catches_up_from_the_log_with_bounded_memory() -> None:
    log = FakeLog()
    follower = InboxFollower(log, USER, max_pending=3)
    await follower.begin(None)
    for _ in range(10):
        follower.push(log.publish())
    assert follower.pending <= 3
    assert cursors(await drain(follower)) == list(range(1, 11))


async def test_resync_after_lost_live_events_checks_the_log() -> None:
    log = FakeLog()
    follower = InboxFollower(log, USER)
    await follower.begin(None)
    log.publish()
    log.publish()
    follower.resync()
    assert cursors(await drain(follower)) == [1, 2]


async def test_unread_changes_pass_through_between_entries_in_arrival_order() -> None:
    log = FakeLog()
    follower = InboxFollower(log, USER)
    await follower.begin(None)
    follower.push(log.publish())
    follower.push(Unread(unread_count=0, version=1))
    follower.push(log.publish())
    given = await drain(follower)
    assert [type(e).__name__ for e in given] == ["Entry", "Unread", "Entry"]


async def test_an_idle_subscriber_gets_nothing_at_the_timeout() -> None:
    log = FakeLog()
    follower = InboxFollower(log, USER)
    await follower.begin(None)
    assert await follower.next(timeout=0.01) == []
    assert log.reads == 0


async def test_an_interrupt_ends_a_wait_at_once_and_every_later_one() -> None:
    follower = InboxFollower(FakeLog(), USER)
    await follower.begin(None)
    waiting = asyncio.create_task(follower.next(timeout=30.0))
    await asyncio.sleep(0)
    follower.interrupt()
    assert await asyncio.wait_for(waiting, 1.0) == []
    assert await asyncio.wait_for(follower.next(timeout=30.0), 1.0) == []


async def test_an_entry_arriving_during_a_wait_is_given_before_the_timeout() -> None:
    log = FakeLog()
    follower = InboxFollower(log, USER)
    await follower.begin(None)
    waiting = asyncio.create_task(follower.next(timeout=30.0))
    await asyncio.sleep(0)
    follower.push(log.publish())
    assert cursors(await asyncio.wait_for(waiting, 1.0)) == [1]


class Written:
    """A sink (an SSE stream's ``write.now``) that takes events until told it cannot."""

    def __init__(self) -> None:
        self.events: list[Entry | Unread] = []
        self.writable = True

    def __call__(self, event: Entry | Unread) -> bool:
        if self.writable:
            self.events.append(event)
        return self.writable


async def with_sink(log: FakeLog) -> tuple[InboxFollower, Written]:
    """A follower after the newest entry, with a sink."""
    follower = InboxFollower(log, USER)
    await follower.begin(None)
    written = Written()
    follower.write_through(written)
    return follower, written


async def waiting(follower: InboxFollower) -> "asyncio.Task[list[InboxEvent]]":
    """A producer parked in ``next``, as an SSE stream's is between events."""
    task = asyncio.create_task(follower.next(timeout=5.0))
    for _ in range(3):
        await asyncio.sleep(0)  # the task reaches its wait
    assert not task.done()
    return task


async def test_while_the_producer_waits_the_next_entries_go_to_the_sink_without_waking_it() -> None:
    log = FakeLog()
    log.publish()
    follower, written = await with_sink(log)
    producer = await waiting(follower)
    follower.push(log.publish())
    follower.push(Unread(unread_count=2, version=7))
    follower.push(log.publish())
    follower.push(Entry(log.entries[1]))  # a duplicate of what was written: dropped
    assert cursors(written.events) == [2, 3]
    assert isinstance(written.events[1], Unread)
    assert follower.last == 3
    await asyncio.sleep(0)
    assert not producer.done()  # never woken
    follower.push(log.publish())
    assert cursors(written.events) == [2, 3, 4]
    producer.cancel()


async def test_an_entry_the_sink_cannot_take_wakes_the_producer_and_keeps_the_order() -> None:
    log = FakeLog()
    follower, written = await with_sink(log)
    producer = await waiting(follower)
    follower.push(log.publish())
    written.writable = False  # the socket is paused: the producer writes, and waits
    follower.push(log.publish())
    written.writable = True
    follower.push(log.publish())  # behind a queued one: queued too, not written first
    assert cursors(written.events) == [1]
    assert cursors(await producer) == [2, 3]
    assert follower.last == 3


async def test_an_entry_beyond_the_next_cursor_is_not_written_through_but_filled_from_the_log() -> (
    None
):
    log = FakeLog()
    follower, written = await with_sink(log)
    producer = await waiting(follower)
    log.publish()  # lost on its way here
    follower.push(log.publish())
    assert written.events == []
    given = await producer
    given += await drain(follower)
    assert cursors(given) == [1, 2]


async def test_without_a_waiting_producer_or_a_sink_events_are_queued_as_before() -> None:
    log = FakeLog()
    follower, written = await with_sink(log)
    follower.push(log.publish())  # the producer is not waiting: it may be mid-write
    assert written.events == []
    assert cursors(await drain(follower)) == [1]
    follower.write_through(None)
    producer = await waiting(follower)
    follower.push(log.publish())
    assert written.events == []
    assert cursors(await producer) == [2]
