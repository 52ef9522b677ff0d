import asyncio
import secrets

import asyncpg
import pytest
from switchboard_devstack.stores import Stores
from switchboard_persistence.migrate import migrate_database, migrations

pytestmark = pytest.mark.component

AUDIENCES = 70  # 0070_audiences.sql


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


async def test_the_audiences_migration_makes_every_known_user_a_member_from_the_start(
    stores: Stores,
) -> None:
    """Applied to a schema of its own holding the previous release's tables: each user known
    belongs to 'all' and to the teams of their latest connection from position 0."""
    schema = f"before_audiences_{secrets.token_hex(4)}"
    audiences = next(sql for version, _, sql in migrations() if version == AUDIENCES)
    conn = await asyncpg.connect(stores.database_url)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        await conn.execute(f'SET search_path TO "{schema}"')
        for version, _, sql in migrations():
            if version < AUDIENCES:
                await conn.execute(sql)
        await conn.execute(
            "INSERT INTO notification_users (user_id, teams) VALUES"
            " ('alice', '{ops,dev}'), ('bob', '{}'), ('carol', '{ops}')"
        )
        await conn.execute(audiences)
        rows = await conn.fetch(
            "SELECT user_id, audience, from_cursor, to_cursor FROM audience_members"
            " ORDER BY user_id, audience"
        )
    finally:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()
    assert [tuple(row) for row in rows] == [
        ("alice", "all", 0, None),
        ("alice", "team.dev", 0, None),
        ("alice", "team.ops", 0, None),
        ("bob", "all", 0, None),
        ("carol", "all", 0, None),
        ("carol", "team.ops", 0, None),
    ]
