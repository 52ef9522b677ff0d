"""``LightEvent``: ``asyncio.Event``'s ``set``, ``clear``, ``is_set`` and ``wait``, in 48 bytes.

An ``asyncio.Event`` is an instance dict and a deque of waiters, about 0.8 KB even when nobody
waits; a connection that keeps a few of them for its whole life pays that per connection
(bench/profiles/README-idle-memory.md). This one is slotted and makes its list of waiters only
when someone waits.
"""

import asyncio
from typing import Literal

__all__ = ["LightEvent"]


class LightEvent:
    __slots__ = ("_value", "_waiters")

    def __init__(self) -> None:
        self._value = False
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._value

    def set(self) -> None:
        """Wake every waiter; later ``wait`` calls return at once until ``clear``."""
        if self._value:
            return
        self._value = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._value = False

    async def wait(self) -> Literal[True]:
        if self._value:
            return True
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            waiters = self._waiters
            if waiters is not None and waiter in waiters:  # cancelled before ``set``
                waiters.remove(waiter)
                if not waiters:
                    self._waiters = None
        return True
