"""One timer pings every notification stream once per interval (``KeepaliveSweep``)."""

import asyncio

from switchboard_gateway.notifications.events import Entry
from switchboard_gateway.notifications.inbox_follower import Gone, InboxFollower
from switchboard_gateway.notifications.keepalive import KeepaliveSweep
from switchboard_gateway.transport.sse import KEEPALIVE

USER = "alice"


class EmptyLog:
    """An inbox with nothing in it."""

    async def head(self, user_id: str) -> int:
        return 0

    async def read(self, user_id: str, after: int, limit: int) -> list[Entry] | Gone:
        return []


class Written:
    """A stream's sink: what it was given."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def __call__(self, chunk: bytes, kind: str) -> bool:
        assert kind == "keepalive"
        self.chunks.append(chunk)
        return True


async def follower_with_sink() -> tuple[InboxFollower, Written]:
    follower = InboxFollower(EmptyLog(), USER)
    await follower.begin(None)
    written = Written()
    follower.write_through(written)
    waiting = asyncio.create_task(follower.next(None))  # the producer waits between events
    for _ in range(3):
        await asyncio.sleep(0)
    assert not waiting.done()
    return follower, written


async def test_each_stream_is_pinged_once_per_round_first_after_a_whole_round() -> None:
    sweep = KeepaliveSweep(interval=3.0, ticks=3)
    streams = [await follower_with_sink() for _ in range(5)]
    for follower, _ in streams:
        sweep.add(follower)
    sweep.add(streams[0][0])  # added twice: still once
    assert len(sweep) == 5
    for _ in range(2):
        sweep.tick()
        assert all(written.chunks == [] for _, written in streams)
    sweep.tick()
    assert all(written.chunks == [KEEPALIVE] for _, written in streams)
    for _ in range(3):
        sweep.tick()
    assert all(written.chunks == [KEEPALIVE, KEEPALIVE] for _, written in streams)


async def test_streams_added_at_different_times_are_spread_over_the_round() -> None:
    sweep = KeepaliveSweep(interval=3.0, ticks=3)
    first, first_written = await follower_with_sink()
    second, second_written = await follower_with_sink()
    sweep.add(first)
    sweep.tick()
    sweep.add(second)
    sweep.tick()
    sweep.tick()  # a whole round after ``first`` was added
    assert (first_written.chunks, second_written.chunks) == ([KEEPALIVE], [])
    sweep.tick()  # and after ``second``
    assert (first_written.chunks, second_written.chunks) == ([KEEPALIVE], [KEEPALIVE])


async def test_a_discarded_stream_is_not_pinged() -> None:
    sweep = KeepaliveSweep(interval=3.0, ticks=3)
    follower, written = await follower_with_sink()
    sweep.add(follower)
    sweep.discard(follower)
    sweep.discard(follower)
    for _ in range(6):
        sweep.tick()
    assert written.chunks == []
    assert len(sweep) == 0


async def test_started_it_pings_on_its_own_and_stops() -> None:
    sweep = KeepaliveSweep(interval=0.06, ticks=3)
    follower = InboxFollower(EmptyLog(), USER)
    await follower.begin(None)
    sweep.add(follower)
    sweep.start()
    try:
        assert await asyncio.wait_for(follower.next(None), 5.0) == [], "woken by its ping"
    finally:
        await sweep.stop()
