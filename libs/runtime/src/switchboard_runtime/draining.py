"""Knowing at once that the process has been asked to stop.

uvicorn waits for open responses to finish before it runs the lifespan's shutdown, so a
response that never ends by itself (a Server-Sent Events stream, a long poll) holds a stopping
process until ``SHUTDOWN_TIMEOUT_SECONDS`` and is then cut off. ``on_stop_signal`` calls back as
soon as SIGTERM or SIGINT arrives, so that such streams can end cleanly (their clients reconnect,
to another replica) and readiness can turn false at once. It chains in front of the handler
uvicorn has installed by the time a lifespan starts, which still runs.
"""

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable
from types import FrameType

__all__ = ["on_stop_signal"]

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def on_stop_signal(callback: Callable[[], None]) -> Callable[[], None]:
    """Call ``callback`` on the running loop when a stop signal arrives; returns an undo.
    Does nothing off the main thread, where signals cannot be handled."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    chained: dict[signal.Signals, object] = {}

    def handle(signum: int, frame: FrameType | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nothing left to tell
            loop.call_soon_threadsafe(callback)
        previous = chained.get(signal.Signals(signum))
        if callable(previous):
            previous(signum, frame)

    for sig in STOP_SIGNALS:
        chained[sig] = signal.signal(sig, handle)

    def undo() -> None:
        for sig, previous in chained.items():
            if signal.getsignal(sig) is handle:
                signal.signal(sig, previous)  # type: ignore[arg-type]

    return undo
