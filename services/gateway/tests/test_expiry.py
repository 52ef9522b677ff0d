"""One gateway-wide schedule wakes each session once its token's second has passed, forgets
sessions that ended, and stays small under churn."""

import asyncio
import time

from switchboard_gateway.edge.expiry import ExpirySchedule

WAIT = 10.0


class Session:
    def __init__(self) -> None:
        self.woken = asyncio.Event()
        self.woken_at: float | None = None
        self.count = 0

    def expired(self) -> None:
        self.count += 1
        self.woken_at = time.time()
        self.woken.set()


async def test_a_session_is_woken_once_after_its_expiry_and_not_before() -> None:
    schedule = ExpirySchedule()
    now = time.time()
    due, later = Session(), Session()
    schedule.add(due, now - 1)
    expires = now + 0.3
    schedule.add(later, expires)
    await asyncio.wait_for(due.woken.wait(), WAIT)
    assert not later.woken.is_set()
    await asyncio.wait_for(later.woken.wait(), WAIT)
    assert later.woken_at is not None
    assert later.woken_at >= expires
    assert (due.count, later.count, len(schedule)) == (1, 1, 0)


async def test_a_session_that_ended_is_neither_woken_nor_kept() -> None:
    schedule = ExpirySchedule()
    expires = time.time() + 0.2
    gone, staying = Session(), Session()
    bucket = schedule.add(gone, expires)
    schedule.add(staying, expires)
    schedule.discard(gone, bucket)
    assert len(schedule) == 1
    await asyncio.wait_for(staying.woken.wait(), WAIT)
    assert not gone.woken.is_set()


async def test_an_earlier_expiry_added_later_rearms_the_one_timer() -> None:
    schedule = ExpirySchedule()
    far, near = Session(), Session()
    schedule.add(far, time.time() + 3600)
    schedule.add(near, time.time() - 1)
    await asyncio.wait_for(near.woken.wait(), WAIT)
    assert not far.woken.is_set()
    assert len(schedule) == 1


async def test_sessions_coming_and_going_leave_a_bounded_schedule() -> None:
    schedule = ExpirySchedule()
    now = time.time()
    for i in range(10_000):
        session = Session()
        schedule.discard(session, schedule.add(session, now + 60 + i))
    assert len(schedule) == 0
    assert len(schedule._seconds) <= 64 + 1  # emptied buckets' seconds are dropped in bulk
