"""Knowing at once that the process has been asked to stop.

uvicorn waits for open responses to finish before it runs the lifespan's shutdown, so a
response that never ends by itself (a Server-Sent Events stream, a long poll) holds a stopping
process until ``SHUTDOWN_TIMEOUT_SECONDS`` and is then cut off. ``on_stop_signal`` calls back as
soon as SIGTERM or SIGINT arrives, so that such streams can end cleanly (their clients reconnect,
to another replica) and readiness can turn false at once. It chains in front of the handler
uvicorn has installed by the time a lifespan starts, which still runs.

With ``hold``, uvicorn's handler runs only once ``hold()`` has finished: uvicorn's own shutdown
closes every WebSocket at once (1012), so a service that paces its closes (the gateway's drain)
does that first. A second stop signal while holding goes to uvicorn at once.
"""

import asyncio
import contextlib
import signal
import threading
from collections.abc import Awaitable, Callable
from types import FrameType

__all__ = ["on_stop_signal"]

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def on_stop_signal(
    callback: Callable[[], None], hold: Callable[[], Awaitable[None]] | None = None
) -> Callable[[], None]:
    """Call ``callback`` on the running loop when a stop signal arrives; returns an undo.
    Does nothing off the main thread, where signals cannot be handled."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    chained: dict[signal.Signals, object] = {}
    holding: list[asyncio.Task[None]] = []

    def pass_on(signum: int, frame: FrameType | None) -> None:
        previous = chained.get(signal.Signals(signum))
        if callable(previous):
            previous(signum, frame)

    async def hold_then_pass_on(signum: int, frame: FrameType | None) -> None:
        try:
            await hold()  # type: ignore[misc]
        finally:
            pass_on(signum, frame)

    def begin(signum: int, frame: FrameType | None) -> None:
        callback()
        holding.append(loop.create_task(hold_then_pass_on(signum, frame)))

    def handle(signum: int, frame: FrameType | None) -> None:
        if hold is None or holding:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nothing left to tell
                loop.call_soon_threadsafe(callback)
            pass_on(signum, frame)
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(begin, signum, frame)

    for sig in STOP_SIGNALS:
        chained[sig] = signal.signal(sig, handle)

    def undo() -> None:
        for sig, previous in chained.items():
            if signal.getsignal(sig) is handle:
                signal.signal(sig, previous)  # type: ignore[arg-type]

    return undo
