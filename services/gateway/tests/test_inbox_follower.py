"""Replay planning without sockets: a fake log, live events pushed by hand.

Cursors are positions in a log shared with other users: increasing per user, not consecutive.
"""

import asyncio
from collections.abc import Sequence

from switchboard_contracts.notify import Notification, NotificationType
from switchboard_gateway.notifications.events import (
    AudienceEntry,
    Entry,
    InboxEvent,
    MemberEntry,
    Reset,
    Unread,
)
from switchboard_gateway.notifications.inbox_follower import PAGE_SIZE, Gone, InboxFollower

USER = "alice"


class FakeLog:
    """A user's inbox in a log shared with others: each entry's cursor is its position, and
    other users' entries lie between (``others``). Entries at or below ``lost_upto`` were lost
    from the log, and reads after a cursor below it are ``Gone`` (``gone``) or skip them."""

    def __init__(self) -> None:
        self.entries: list[Notification] = []
        self.position = 0
        self.lost_upto = 0
        self.gone = False
        self.reads: list[int] = []
        """The ``after`` of each read."""

    def publish(self, title: str = "", others: int = 2) -> Entry:
        self.position += others + 1
        cursor = self.position
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

    def at(self, cursor: int) -> Entry:
        """The entry of ``cursor`` (a live copy of it)."""
        return Entry(next(n for n in self.entries if n.cursor == cursor))

    def lose_upto(self, cursor: int, *, gone: bool) -> None:
        self.lost_upto = cursor
        self.gone = gone

    async def head(self, user_id: str) -> int:
        assert user_id == USER
        return self.entries[-1].cursor if self.entries else 0

    async def read(self, user_id: str, after: int, limit: int) -> list[Entry] | Gone:
        assert user_id == USER
        self.reads.append(after)
        if self.gone and after < self.lost_upto:
            return Gone()
        kept = [n for n in self.entries if n.cursor > max(after, self.lost_upto)]
        return [Entry(n) for n in kept[:limit]]


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
    assert follower.last == 3
    follower.push(log.publish())
    follower.push(log.publish())
    assert cursors(await drain(follower)) == [6, 9]


async def test_live_entries_with_sparse_cursors_are_given_in_order_without_reading_the_log() -> (
    None
):
    log = FakeLog()
    follower = InboxFollower(log, USER)
    await follower.begin(None)
    for others in (4, 3, 10):  # cursors 5, 9, 20
        follower.push(log.publish(others=others))
    assert cursors(await drain(follower)) == [5, 9, 20]
    assert follower.last == 20
    assert log.reads == []


async def test_live_entries_at_or_below_the_last_cursor_are_dropped() -> None:
    log = FakeLog()
    for _ in range(3):
        log.publish()  # 3, 6, 9
    follower = InboxFollower(log, USER)
    await follower.begin(None)
    follower.push(log.at(6))  # a late copy of one already given
    follower.push(log.at(9))
    follower.push(log.publish())  # 12
    follower.push(log.at(12))
    assert cursors(await drain(follower)) == [12]


async def test_missed_entries_come_first_in_order_then_live_ones_without_duplicates() -> None:
    log = FakeLog()
    for _ in range(5):
        log.publish()  # 3, 6, 9, 12, 15
    follower = InboxFollower(log, USER)
    await follower.begin(6)
    # published while the replay was being read: in the log and in the live queue
    follower.push(log.publish())
    follower.push(log.publish())
    given = await drain(follower)
    follower.push(log.publish())
    given += await drain(follower)
    assert cursors(given) == [9, 12, 15, 18, 21, 24]
    assert log.reads[0] == 6


async def test_a_cursor_between_two_entries_resumes_with_the_next_one() -> None:
    log = FakeLog()
    for _ in range(3):
        log.publish()  # 3, 6, 9
    follower = InboxFollower(log, USER)
    assert await follower.begin(4) is None
    assert cursors(await drain(follower)) == [6, 9]


async def test_a_cursor_the_inbox_never_reached_resets_to_the_newest() -> None:
    log = FakeLog()
    log.publish()
    follower = InboxFollower(log, USER)
    reset = await follower.begin(99)
    assert isinstance(reset, Reset)
    assert reset.cursor == 3
    follower.push(log.publish())
    assert cursors(await drain(follower)) == [6]


async def test_a_negative_cursor_resets_to_the_newest() -> None:
    log = FakeLog()
    log.publish()
    follower = InboxFollower(log, USER)
    reset = await follower.begin(-1)
    assert isinstance(reset, Reset)
    assert reset.cursor == 3


async def test_a_log_with_nothing_more_up_to_the_newest_ends_the_catch_up_without_reset() -> None:
    """The head names an entry the log no longer gives (erased, say): with sparse cursors that
    is not a gap to report; the subscriber goes on live from the head."""
    log = FakeLog()
    for _ in range(4):
        log.publish()  # 3, 6, 9, 12
    log.lose_upto(12, gone=False)
    follower = InboxFollower(log, USER)
    assert await follower.begin(3) is None
    given = await drain(follower)
    assert given == []
    assert follower.last == 12
    follower.push(log.publish())
    assert cursors(await drain(follower)) == [15]


async def test_a_page_beyond_the_target_stops_there_and_live_entries_give_the_rest() -> None:
    log = FakeLog()
    for _ in range(2):
        log.publish()  # 3, 6
    follower = InboxFollower(log, USER)
    await follower.begin(0)  # the target is 6
    later = [log.publish(), log.publish()]  # 9, 12: in the log and coming live
    first = await follower.next(timeout=0.01)
    assert cursors(first) == [3, 6]
    for entry in later:
        follower.push(entry)
    assert cursors(await drain(follower)) == [9, 12]


async def test_a_cursor_past_retention_resets_once_and_goes_on_live() -> None:
    log = FakeLog()
    for _ in range(10):
        log.publish()  # 3 ... 30
    log.lose_upto(15, gone=True)
    follower = InboxFollower(log, USER)
    assert await follower.begin(6) is None
    given = await drain(follower)
    assert len(given) == 1
    assert isinstance(given[0], Reset)
    assert given[0].cursor == 30
    follower.push(log.publish())
    assert cursors(await drain(follower)) == [33]


async def test_a_long_replay_comes_in_pages() -> None:
    log = FakeLog()
    for _ in range(PAGE_SIZE * 2 + 5):
        log.publish(others=6)
    everything = [n.cursor for n in log.entries]
    follower = InboxFollower(log, USER)
    await follower.begin(0)
    first = await follower.next(timeout=0.01)
    assert cursors(first) == everything[:PAGE_SIZE]
    rest = await drain(follower)
    assert cursors(rest) == everything[PAGE_SIZE:]
    assert log.reads == [0, everything[PAGE_SIZE - 1], everything[2 * PAGE_SIZE - 1]]


async def test_a_subscriber_too_far_behind_catches_up_from_the_log_with_bounded_memory() -> None:
    log = FakeLog()
    follower = InboxFollower(log, USER, max_pending=3)
    await follower.begin(None)
    for _ in range(10):
        follower.push(log.publish())
    assert follower.pending <= 3
    assert cursors(await drain(follower)) == [n.cursor for n in log.entries]
    assert log.reads[0] == 0


async def test_a_lost_live_entry_is_not_guessed_from_cursors_but_found_at_resync() -> None:
    log = FakeLog()
    log.publish()  # 3
    follower = InboxFollower(log, USER)
    await follower.begin(None)
    given = [log.publish(), log.publish()]  # 6, 9: their live events were lost
    assert await follower.next(timeout=0.01) == []
    assert log.reads == []
    follower.resync()  # the bus reconnected
    assert cursors(await drain(follower)) == [e.cursor for e in given]
    assert log.reads == [3]


async def test_live_entries_arriving_before_the_resync_wait_behind_the_lost_ones() -> None:
    """After a reconnect, the live subscription is back before ``resync`` runs; what comes in
    between is newer than what was lost while disconnected, so it must not be given first."""
    log = FakeLog()
    follower = InboxFollower(log, USER)
    await follower.begin(None)
    written = Written()
    follower.write_through(written)
    producer = await waiting(follower)
    follower.hold()  # the bus disconnected
    log.publish()  # 3: lost
    follower.push(log.publish())  # 6: arrived after the resubscription
    follower.push(Unread(unread_count=2, version=1))
    for _ in range(3):
        await asyncio.sleep(0)
    assert written.events == []
    assert not producer.done()
    follower.resync()
    given = await asyncio.wait_for(producer, 1.0)
    given += await drain(follower)
    assert cursors(given) == [3, 6]
    assert isinstance(given[-1], Unread)


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
    assert log.reads == []


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
    assert cursors(await asyncio.wait_for(waiting, 1.0)) == [3]


class Written:
    """A sink (an SSE stream's ``write.now``) that takes events until told it cannot; ``events``
    are what it wrote: an entry's cursor (its ``id:``), or the kind of an event without one."""

    def __init__(self) -> None:
        self.events: list[int | str] = []
        self.chunks: list[bytes] = []
        self.writable = True

    def __call__(self, chunk: bytes, kind: str) -> bool:
        if self.writable:
            lines = [line for line in chunk.decode().splitlines() if not line.startswith(":")]
            fields = dict(line.split(": ", 1) for line in lines if line)
            assert fields.get("event", "keepalive") == kind
            self.events.append(int(fields["id"]) if "id" in fields else kind)
            self.chunks.append(chunk)
        return self.writable


async def with_sink(log: FakeLog) -> tuple[InboxFollower, Written]:
    """A follower after the newest entry, with a sink."""
    follower = InboxFollower(log, USER)
    await follower.begin(None)
    written = Written()
    follower.write_through(written)
    return follower, written


async def waiting(
    follower: InboxFollower, timeout: float | None = 5.0
) -> "asyncio.Task[list[InboxEvent]]":
    """A producer parked in ``next``, as an SSE stream's is between events."""
    task = asyncio.create_task(follower.next(timeout))
    for _ in range(3):
        await asyncio.sleep(0)  # the task reaches its wait
    assert not task.done()
    return task


async def test_while_the_producer_waits_newer_entries_go_to_the_sink_without_waking_it() -> None:
    log = FakeLog()
    log.publish()  # 3
    follower, written = await with_sink(log)
    producer = await waiting(follower)
    follower.push(log.publish(others=4))  # 8
    follower.push(Unread(unread_count=2, version=7))
    follower.push(log.publish(others=20))  # 29
    follower.push(log.at(8))  # a duplicate of what was written: dropped
    assert written.events == [8, "unread", 29]
    assert follower.last == 29
    await asyncio.sleep(0)
    assert not producer.done()  # never woken
    follower.push(log.publish())
    assert written.events == [8, "unread", 29, 32]
    assert log.reads == []
    producer.cancel()


async def test_an_entry_the_sink_cannot_take_wakes_the_producer_and_keeps_the_order() -> None:
    log = FakeLog()
    follower, written = await with_sink(log)
    producer = await waiting(follower)
    follower.push(log.publish())  # 3
    written.writable = False  # the socket is paused: the producer writes, and waits
    follower.push(log.publish())  # 6
    written.writable = True
    follower.push(log.publish())  # 9: behind a queued one: queued too, not written first
    assert written.events == [3]
    assert cursors(await producer) == [6, 9]
    assert follower.last == 9


async def test_while_the_log_is_read_live_entries_are_not_written_through() -> None:
    log = FakeLog()
    for _ in range(2):
        log.publish()  # 3, 6
    follower = InboxFollower(log, USER)
    await follower.begin(0)
    written = Written()
    follower.write_through(written)
    follower.push(log.publish())  # 9: the log up to 6 is still to be given
    assert written.events == []
    assert cursors(await drain(follower)) == [3, 6, 9]


async def test_without_a_waiting_producer_or_a_sink_events_are_queued_as_before() -> None:
    log = FakeLog()
    follower, written = await with_sink(log)
    follower.push(log.publish())  # the producer is not waiting: it may be mid-write
    assert written.events == []
    assert cursors(await drain(follower)) == [3]
    follower.write_through(None)
    producer = await waiting(follower)
    follower.push(log.publish())
    assert written.events == []
    assert cursors(await producer) == [6]


def broadcast(log: FakeLog) -> AudienceEntry:
    """A broadcast stored in the log at its next position (an audience's entry, for everyone)."""
    log.position += 3
    return AudienceEntry(
        Notification(
            id=f"b{log.position}",
            user_id="",
            audience="all",
            cursor=log.position,
            type=NotificationType.INFO,
            title="to everyone",
            message="m",
            timestamp=log.position,
        )
    )


async def test_a_broadcast_member_gets_their_own_bytes_through_the_sink_once() -> None:
    log = FakeLog()
    follower, written = await with_sink(log)
    producer = await waiting(follower)
    shared = broadcast(log)
    follower.push_member(shared, USER)
    follower.push_member(shared, USER)  # given already: dropped
    assert written.events == [shared.cursor]
    assert written.chunks == [shared.sse_bytes_for(USER)]
    assert f'"userId":"{USER}"'.encode() in written.chunks[0]
    assert follower.last == shared.cursor
    await asyncio.sleep(0)
    assert not producer.done()
    producer.cancel()


async def test_a_broadcast_member_is_queued_as_their_own_entry_when_the_sink_cannot_take_it() -> (
    None
):
    log = FakeLog()
    follower, written = await with_sink(log)
    producer = await waiting(follower)
    written.writable = False
    shared = broadcast(log)
    follower.push_member(shared, USER)
    written.writable = True
    follower.push(log.publish())  # behind the queued broadcast: queued too
    given = await producer
    assert cursors(given) == [shared.cursor, shared.cursor + 3]
    member = given[0]
    assert isinstance(member, MemberEntry)
    assert member.user_id == USER
    assert member.sse_bytes == shared.sse_bytes_for(USER)
    assert written.events == []


async def test_without_a_timeout_a_wait_lasts_until_a_ping_and_a_ping_goes_through_the_sink() -> (
    None
):
    log = FakeLog()
    follower, written = await with_sink(log)
    producer = await waiting(follower)  # next(timeout=5.0): its timer is not what ends it
    follower.ping(b":keepalive\n\n")
    assert written.chunks == [b":keepalive\n\n"]
    assert written.events == ["keepalive"]
    await asyncio.sleep(0)
    assert not producer.done(), "written through: the producer sleeps on"
    producer.cancel()
    untimed = await waiting(follower, timeout=None)
    written.writable = False  # the socket is paused: the producer writes it, and waits
    follower.ping(b":keepalive\n\n")
    assert await asyncio.wait_for(untimed, 1.0) == []


async def test_a_ping_while_the_bus_is_down_still_ends_the_wait_with_nothing() -> None:
    """Held live events must not hold back the keepalive."""
    log = FakeLog()
    follower, written = await with_sink(log)
    untimed = await waiting(follower, timeout=None)
    follower.hold()
    follower.ping(b":keepalive\n\n")
    assert await asyncio.wait_for(untimed, 1.0) == []
    assert written.chunks == []
