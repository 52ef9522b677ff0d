"""What persistence's component tests share: a migrated pool on this run's database."""

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from switchboard_devstack.stores import Stores
from switchboard_persistence.migrate import migrate


@pytest.fixture
async def pool(stores: Stores) -> AsyncIterator[asyncpg.Pool]:
    """A pool of up to four connections on the migrated database, closed after the test."""
    created = await asyncpg.create_pool(stores.database_url, min_size=1, max_size=4)
    async with created.acquire() as conn:
        await migrate(conn)
    yield created
    await asyncio.wait_for(created.close(), timeout=10)
