"""A stop signal is noticed at once, and the handler that was there still runs."""

import asyncio
import os
import signal
from types import FrameType

from switchboard_runtime.draining import on_stop_signal


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
