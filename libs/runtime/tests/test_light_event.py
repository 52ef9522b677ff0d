"""``LightEvent`` behaves as ``asyncio.Event`` for set, clear, is_set and wait."""

import asyncio

import pytest
from switchboard_runtime.patches.light_event import LightEvent

WAIT = 10.0


async def test_set_wakes_every_waiter_and_later_waits_return_at_once() -> None:
    event = LightEvent()
    waiters = [asyncio.create_task(event.wait()) for _ in range(3)]
    await asyncio.sleep(0)  # all three are waiting
    assert not any(waiter.done() for waiter in waiters)
    event.set()
    assert list(await asyncio.wait_for(asyncio.gather(*waiters), WAIT)) == [True, True, True]
    assert event.is_set()
    assert await event.wait() is True


async def test_clear_makes_wait_wait_again() -> None:
    event = LightEvent()
    event.set()
    event.clear()
    assert not event.is_set()
    waiter = asyncio.create_task(event.wait())
    await asyncio.sleep(0)
    assert not waiter.done()
    event.set()
    assert await asyncio.wait_for(waiter, WAIT) is True


async def test_a_cancelled_wait_is_forgotten_and_others_still_wake() -> None:
    event = LightEvent()
    cancelled = asyncio.create_task(event.wait())
    kept = asyncio.create_task(event.wait())
    await asyncio.sleep(0)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    event.set()
    assert await asyncio.wait_for(kept, WAIT) is True


async def test_a_wait_with_a_timeout_times_out_while_unset() -> None:
    event = LightEvent()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(event.wait(), 0.01)
    event.set()
    assert await asyncio.wait_for(event.wait(), WAIT) is True
