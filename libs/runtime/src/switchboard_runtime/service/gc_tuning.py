"""Garbage collection for a process that holds thousands of connections.

A full collection walks every object the collector tracks, and the process does nothing else
meanwhile. In a gateway holding 10,000 SSE streams one took 1.2-1.9 s of its only core, and every
event of a broadcast that met it waited that long (bench/profiles/README-sse-path.md). Two
settings make full collections rarer and shorter:

- ``gc.freeze()`` once start-up is complete (the lifespan's ``startup.complete``): what imports
  and start-up created lives as long as the process, so no collection walks it again.
- ``GC_THRESHOLDS`` (``gen0,gen1,gen2``; Python's default is ``700,10,10``): a larger first
  threshold means fewer young collections and so, in turn, fewer full ones.

Every collection's pause is observed in ``switchboard_process_gc_pause_seconds{generation}``.
"""

import gc
import time
from collections.abc import Awaitable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from switchboard_runtime.telemetry.metrics import GC_PAUSE, child, service_name

__all__ = ["FreezeAfterStartup", "observe_gc_pauses", "parse_thresholds", "set_thresholds"]


def parse_thresholds(text: str) -> tuple[int, int, int]:
    """``"10000,10,10"`` -> ``(10000, 10, 10)``; each a whole number above zero."""
    parts = [part.strip() for part in text.split(",")]
    if len(parts) != 3 or not all(part.isdigit() and int(part) > 0 for part in parts):
        raise ValueError(
            f"GC_THRESHOLDS needs three whole numbers above 0, like 10000,10,10: {text}"
        )
    first, second, third = (int(part) for part in parts)
    return first, second, third


def set_thresholds(thresholds: tuple[int, int, int]) -> None:
    gc.set_threshold(*thresholds)


_started: list[float] = []


def _on_collection(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started.append(time.perf_counter())
    elif _started:
        pause = time.perf_counter() - _started.pop()
        child(GC_PAUSE, service_name(), str(info.get("generation", "?"))).observe(pause)


def observe_gc_pauses() -> None:
    """Time every collection from now on (once per process)."""
    if _on_collection not in gc.callbacks:
        gc.callbacks.append(_on_collection)


class FreezeAfterStartup:
    """ASGI wrapper: ``gc.freeze()`` as the app reports its start-up complete."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        """A plain function, not a coroutine: requests and sockets are handed to the app as they
        are, and no frame of this wrapper stays on their stacks (see ``run``)."""
        if scope["type"] != "lifespan":
            return self.app(scope, receive, send)
        return self._lifespan(scope, receive, send)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_and_freeze(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                gc.collect()  # what start-up left as garbage is freed, not frozen
                gc.freeze()
            await send(message)

        await self.app(scope, receive, send_and_freeze)
