import asyncio

import asyncpg
import pytest
from switchboard_devstack.stores import Stores
from switchboard_persistence.migrate import migrate_database, migrations

pytestmark = pytest.mark.component


def test_migrations_are_numbered_uniquely_and_in_order() -> None:
    versions = [version for version, _, _ in migrations()]
    assert versions == sorted(set(versions))
    assert versions[0] == 1


async def test_two_instances_migrating_at_once_apply_each_migration_once(stores: Stores) -> None:
    results = await asyncio.gather(*(migrate_database(stores.database_url) for _ in range(4)))
    conn = await asyncpg.connect(stores.database_url)
    try:
        rows = await conn.fetch("SELECT version FROM schema_migrations ORDER BY version")
    finally:
        await conn.close()
    assert [row["version"] for row in rows] == [version for version, _, _ in migrations()]
    applied = [name for result in results for name in result]
    assert len(applied) == len(set(applied))  # nobody applied one twice
