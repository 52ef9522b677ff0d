"""What persistence's component tests share: a migrated pool on this run's database, and a bus
on this run's NATS with the NOTIFY stream."""

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from switchboard_contracts import streams
from switchboard_devstack.stores import Stores
from switchboard_persistence.migrate import migrate
from switchboard_runtime import Bus, ServiceSettings, ensure_stream


@pytest.fixture
async def pool(stores: Stores) -> AsyncIterator[asyncpg.Pool]:
    """A pool of up to four connections on the migrated database, closed after the test."""
    created = await asyncpg.create_pool(stores.database_url, min_size=1, max_size=4)
    async with created.acquire() as conn:
        await migrate(conn)
    yield created
    await asyncio.wait_for(created.close(), timeout=10)


@pytest.fixture
async def bus(stores: Stores) -> AsyncIterator[Bus]:
    connected = Bus(ServiceSettings(nats_url=stores.nats_url), name="persistence-test")
    await connected.connect()
    await ensure_stream(connected.js, streams.NOTIFY)
    yield connected
    await connected.nc.close()
