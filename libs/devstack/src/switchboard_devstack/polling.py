"""Waiting for what a test cannot be told about, only ask again: polled, with a deadline."""

import asyncio
from collections.abc import Awaitable, Callable

import asyncpg

__all__ = ["stored_rows", "until"]


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


async def stored_rows(
    database_url: str, query: str, *args: object, timeout: float = 15.0
) -> list[object]:
    """The first column of ``query``'s rows once there are any: persistence writes after the
    ack, so a test reading PostgreSQL right after one asks again until the rows are there."""
    database = await asyncpg.connect(database_url)
    try:
        rows: list[asyncpg.Record] = []

        async def found() -> bool:
            nonlocal rows
            rows = await database.fetch(query, *args)
            return bool(rows)

        await until(found, f"rows for {query!r}", timeout=timeout)
        return [row[0] for row in rows]
    finally:
        await database.close()
