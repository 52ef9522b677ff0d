"""Waiting for what a test cannot be told about, only ask again: polled, with a deadline."""

import asyncio
from collections.abc import Awaitable, Callable

__all__ = ["until"]


async def until(
    check: Callable[[], Awaitable[bool]], what: str, *, timeout: float, interval: float = 0.05
) -> None:
    """Ask ``check`` every ``interval`` seconds until it says yes; after ``timeout`` seconds, an
    AssertionError naming ``what`` (what the test was waiting for)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        await asyncio.sleep(interval)
