"""Migrations: in order, recorded, idempotent, safe when two processes run them at once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

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


_GRID = """(SELECT s AS span, 0 AS phase FROM unnest('{900,1800,3600,10800,21600,43200,86400}'::int4[]) s
            UNION ALL SELECT 86400, p FROM rollup_day_phases d, unnest(d.phases) p) g"""
_LEGACY_ROLLUP = f"""
INSERT INTO rollup_spans AS r (span, t, affiliate_id, offer_id, pending, approved, rejected,
                               reversed, revenue, payout)
SELECT g.span, span_start(c.created_at, g.span, g.phase), c.affiliate_id, o.o,
       count(*) FILTER (WHERE c.status = 'pending'), count(*) FILTER (WHERE c.status = 'approved'),
       count(*) FILTER (WHERE c.status = 'rejected'), count(*) FILTER (WHERE c.status = 'reversed'),
       coalesce(sum(c.revenue) FILTER (WHERE c.status IN ('pending', 'approved')), 0),
       coalesce(sum(c.payout) FILTER (WHERE c.status IN ('pending', 'approved')), 0)
  FROM conversions c CROSS JOIN {_GRID} CROSS JOIN LATERAL (VALUES (c.offer_id), (0::int8)) o (o)
 GROUP BY 1, 2, 3, 4"""
# What the rollup must hold for the rows as they are now, at every span and local day.
_EXPECTED = f"""
SELECT g.span, span_start(c.created_at, g.span, g.phase) AS t, c.affiliate_id, o.o,
       count(*) FILTER (WHERE c.status = 'pending') AS pending,
       count(*) FILTER (WHERE c.status = 'approved') AS approved,
       count(*) FILTER (WHERE c.status = 'held') AS held,
       coalesce(sum(c.payout) FILTER (WHERE c.status IN ('pending', 'approved')), 0) AS payout
  FROM conversions c CROSS JOIN {_GRID} CROSS JOIN LATERAL (VALUES (c.offer_id), (0::int8)) o (o)
 GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"""


async def test_migration_0020_makes_tracker_holds_held_and_moves_them_out_of_pending(
    fresh_db: str,
) -> None:
    """Rows stored before issue 17: a cap or a missing rate held them 'pending' (counted as
    pending payout); the migration makes them 'held', moves their rollup counts and money
    out of pending at every span, and records the merchant's status and the tracker's gate."""
    conn = await asyncpg.connect(fresh_db)
    try:
        await conn.execute("CREATE TABLE schema_migrations (version integer PRIMARY KEY,"
                           " name text NOT NULL, checksum text NOT NULL,"
                           " applied_at timestamptz NOT NULL DEFAULT now())")  # fmt: skip
        for m in discover():
            if m.version < 20:
                await conn.execute(m.sql)
                await conn.execute("INSERT INTO schema_migrations VALUES ($1, $2, $3)",
                                   m.version, m.name, m.checksum)  # fmt: skip
        await conn.execute("UPDATE rollup_day_phases SET phases = '{66600}'")  # Kolkata days
        adv = await conn.fetchval(
            "INSERT INTO advertisers (name, postback_token) VALUES ('a', 't') RETURNING id"
        )
        aff = await conn.fetchval("INSERT INTO affiliates (name) VALUES ('p') RETURNING id")
        offer = await conn.fetchval("INSERT INTO offers (advertiser_id, name, landing_url) VALUES"
                                    " ($1, 'o', 'https://x.example/') RETURNING id", adv)  # fmt: skip
        legacy = [("pending", "cap", "2.50"), ("pending", "no_rate", "0"), ("approved", None, "3"),
                  ("pending", None, "1.25"), ("rejected", "fraud:ctc_too_short", "2.50"),
                  ("rejected", "postback: status=rejected", "2.50"), ("pending", "cap", "4")]  # fmt: skip
        for i, (status, reason, payout) in enumerate(legacy):
            await conn.execute(
                "INSERT INTO conversions (conversion_id, advertiser_id, txn_id, offer_id,"
                " affiliate_id, status, status_reason, payout, revenue, created_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, now() - $9 * interval '5 hours')",
                uuid.uuid4(), adv, f"t{i}", offer, aff, status, reason, Decimal(payout), i,
            )  # fmt: skip
        await conn.execute(_LEGACY_ROLLUP)
        assert [m.split("_")[0] for m in await migrate_dsn(fresh_db)][:2] == ["0020", "0021"]
        rows = await conn.fetch("SELECT status, status_reason, merchant_status, gate"
                                " FROM conversions ORDER BY txn_id")  # fmt: skip
        assert [tuple(r) for r in rows] == [
            ("held", "cap", "pending", None), ("held", "no_rate", "pending", None),
            ("approved", None, "approved", None), ("pending", None, "pending", None),
            ("rejected", "fraud:ctc_too_short", "pending", "fraud:ctc_too_short"),
            ("rejected", "postback: status=rejected", "rejected", None),
            ("held", "cap", "pending", None)]  # fmt: skip
        got = await conn.fetch(
            "SELECT span, t, affiliate_id, offer_id AS o, pending, approved, held, payout"
            " FROM rollup_spans ORDER BY 1, 2, 3, 4"
        )
        want = await conn.fetch(_EXPECTED)
        assert [tuple(r) for r in got] == [tuple(r) for r in want]
        assert sum(r["held"] for r in got if r["span"] == 900 and r["o"] == offer) == 3
    finally:
        await conn.close()
