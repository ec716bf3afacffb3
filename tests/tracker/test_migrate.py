"""Migrations: in order, recorded, idempotent, safe when two processes run them at once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from tracker.runtime.servers import ServerUrls
from tracker.store.migrate import discover, migrate_dsn


@pytest.fixture
async def fresh_db(migrated: ServerUrls) -> AsyncIterator[str]:
    name = f"m_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(migrated.database_url)
    await admin.execute(f"CREATE DATABASE {name}")
    dsn = migrated.database_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield dsn
    finally:
        await admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
        await admin.close()


def test_migrations_are_numbered_uniquely_and_applied_in_order() -> None:
    versions = [m.version for m in discover()]
    # Numbers are reserved per issue (0003 redirect, 0004 ingest, 0005 conversions), so a
    # branch may hold a later file before an earlier one lands; order and uniqueness hold.
    assert versions == sorted(set(versions)) and versions[0] == 1


async def test_two_processes_migrating_at_once_apply_each_file_once(fresh_db: str) -> None:
    results = await asyncio.gather(*(migrate_dsn(fresh_db) for _ in range(4)))
    applied = [name for r in results for name in r]
    assert sorted(applied) == sorted(m.name for m in discover())  # each file exactly once
    assert await migrate_dsn(fresh_db) == []
    conn = await asyncpg.connect(fresh_db)
    try:
        rows = await conn.fetch("SELECT version FROM schema_migrations ORDER BY 1")
        assert [r["version"] for r in rows] == [m.version for m in discover()]
        tables = {
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
        assert {"advertisers", "affiliates", "offers", "tracking_links", "clicks", "conversions",
                "rollup_spans", "api_keys"} <= tables  # fmt: skip
        partitioned = await conn.fetchval(
            "SELECT count(*) FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid WHERE c.relname = 'clicks'"
        )
        assert partitioned == 1
    finally:
        await conn.close()


async def test_an_edited_applied_migration_is_refused(fresh_db: str) -> None:
    await migrate_dsn(fresh_db)
    conn = await asyncpg.connect(fresh_db)
    await conn.execute("UPDATE schema_migrations SET checksum = 'x' WHERE version = 1")
    await conn.close()
    with pytest.raises(RuntimeError, match="changed after it was applied"):
        await migrate_dsn(fresh_db)
