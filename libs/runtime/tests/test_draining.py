"""A stop signal is noticed at once, and the handler that was there still runs."""

import asyncio
import os
import signal
from types import FrameType

from switchboard_runtime.service.draining import on_stop_signal


async def test_a_stop_signal_calls_back_and_the_previous_handler_still_runs() -> None:
    earlier: list[int] = []

    def previous(signum: int, frame: FrameType | None) -> None:
        earlier.append(signum)

    original = signal.signal(signal.SIGTERM, previous)
    try:
        stopping = asyncio.Event()
        undo = on_stop_signal(stopping.set)
        os.kill(os.getpid(), signal.SIGTERM)
        async with asyncio.timeout(5):
            await stopping.wait()
        assert earlier == [signal.SIGTERM]
        undo()
        assert signal.getsignal(signal.SIGTERM) is previous
    finally:
        signal.signal(signal.SIGTERM, original)


async def test_with_a_hold_the_previous_handler_runs_after_it_and_a_second_signal_at_once() -> None:
    earlier: list[int] = []

    def previous(signum: int, frame: FrameType | None) -> None:
        earlier.append(signum)

    release = asyncio.Event()
    held = asyncio.Event()

    async def hold() -> None:
        held.set()
        await release.wait()

    original = signal.signal(signal.SIGTERM, previous)
    try:
        stopping = asyncio.Event()
        undo = on_stop_signal(stopping.set, hold)
        os.kill(os.getpid(), signal.SIGTERM)
        async with asyncio.timeout(5):
            await held.wait()
        assert stopping.is_set()
        assert earlier == []
        release.set()
        async with asyncio.timeout(5):
            while not earlier:  # noqa: ASYNC110 (the handler leaves no event to wait on)
                await asyncio.sleep(0.01)
        assert earlier == [signal.SIGTERM]
        os.kill(os.getpid(), signal.SIGTERM)  # a second one, after the hold: straight through
        assert earlier == [signal.SIGTERM, signal.SIGTERM]
        undo()
    finally:
        signal.signal(signal.SIGTERM, original)
