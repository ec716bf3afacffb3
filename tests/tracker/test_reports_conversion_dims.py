"""A conversion carries its click's report dimensions (migration 0015, docs/adr/0071): the
trigger copies them from the click for every writer, the migration back-fills conversions
stored before, and a raw report groups conversions by them exactly as by a lookup of the
click (the ground-truth tests in test_reports.py compare the whole API with that lookup)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib import resources

import asyncpg
import orjson

from ingest.partitions import create
from tracker.store.reports import rates, sql

DIMS = ("link_id", *(f"sub{i}" for i in range(1, 11)), "source", "os", "browser")
_SAME = " AND ".join(f"v.{d} IS NOT DISTINCT FROM k.{d}" for d in DIMS)
_NONE = " AND ".join(f"v.{d} IS NULL" for d in DIMS)


async def _world(pool: asyncpg.Pool) -> tuple[int, int, datetime]:
    adv = await pool.fetchval(
        "INSERT INTO advertisers (name, postback_token) VALUES ('d', 't') RETURNING id"
    )
    aff = await pool.fetchval("INSERT INTO affiliates (name) VALUES ('d') RETURNING id")
    offer = await pool.fetchval("INSERT INTO offers (advertiser_id, name, landing_url) VALUES "
                                "($1, 'd', 'https://x.example/') RETURNING id", adv)  # fmt: skip
    link = await pool.fetchval("INSERT INTO tracking_links (code, offer_id, affiliate_id) VALUES "
                               "($1, $2, $3) RETURNING id", uuid.uuid4().hex[:12], offer, aff)  # fmt: skip
    t0 = datetime(2026, 2, 3, 10, tzinfo=UTC)
    await create(pool, "clicks", t0.date())
    for i, sub in enumerate(["a", "b", 'q"uote', None]):
        cid, at = uuid.uuid4(), t0 + timedelta(minutes=i)
        await pool.execute(
            "INSERT INTO clicks (click_id, created_at, link_id, offer_id, affiliate_id, link_code,"
            " sub1, sub2, sub10, source, os, browser, is_unique) VALUES ($1, $2, $3, $4, $5, 'x',"
            " $6, $7, $8, $9, $10, $11, true)",
            cid, at, link, offer, aff, sub, f"s2-{i}", f"s10-{i}", "fb" if i % 2 else None,
            "iOS", f"b{i}")  # fmt: skip
        # one conversion with its click, and one whose click id names no stored click
        for click_at in (at, at + timedelta(seconds=1)):
            await pool.execute(
                "INSERT INTO conversions (conversion_id, advertiser_id, txn_id, click_id, click_at,"
                " offer_id, affiliate_id, status, revenue, payout, created_at) VALUES ($1, $2, $3,"
                " $4, $5, $6, $7, 'approved', $8, 1, $5)",
                uuid.uuid4(), adv, f"t{i}-{click_at}", cid, click_at, offer, aff,
                Decimal(i + 1))  # fmt: skip
    # and one without a click (a promo code)
    await pool.execute(
        "INSERT INTO conversions (conversion_id, advertiser_id, txn_id, offer_id, affiliate_id,"
        " status, revenue, created_at) VALUES ($1, $2, 'code', $3, $4, 'pending', 5, $5)",
        uuid.uuid4(), adv, offer, aff, t0)  # fmt: skip
    return aff, offer, t0


async def _check(conn: asyncpg.Connection | asyncpg.Pool, aff: int) -> None:
    rows = await conn.fetch(
        f"SELECT v.click_at, k.click_id IS NOT NULL AS found, ({_SAME}) AS same, ({_NONE}) AS none"
        " FROM conversions v LEFT JOIN clicks k ON k.click_id = v.click_id"
        " AND k.created_at = v.click_at WHERE v.affiliate_id = $1",
        aff,
    )
    assert len(rows) == 9 and sum(r["found"] for r in rows) == 4
    assert all(r["same"] for r in rows)  # the click's values, or NULL where there is no click
    assert all(r["none"] for r in rows if not r["found"])
    subs = await conn.fetch("SELECT sub1, sub10, os FROM conversions WHERE affiliate_id = $1 "
                            "AND sub2 IS NOT NULL ORDER BY sub2", aff)  # fmt: skip
    assert [tuple(r) for r in subs] == [("a", "s10-0", "iOS"), ("b", "s10-1", "iOS"),
                                        ('q"uote', "s10-2", "iOS"), (None, "s10-3", "iOS")]  # fmt: skip


async def test_the_trigger_and_the_backfill_copy_the_clicks_dimensions(pool: asyncpg.Pool) -> None:
    aff, _, _ = await _world(pool)
    await _check(pool, aff)
    # conversions stored before migration 0015 (no values): its back-fill gives the same
    migration = resources.files("migrations").joinpath("0015_conversion_click_dims.sql")
    text = migration.read_text("utf-8")
    backfill = text[text.index("UPDATE conversions v") :]
    async with pool.acquire() as conn:
        tr = conn.transaction()
        await tr.start()
        await conn.execute(
            f"UPDATE conversions SET {', '.join(f'{d} = NULL' for d in DIMS)}"
            " WHERE affiliate_id = $1",
            aff,
        )
        blank = await conn.fetchval(
            f"SELECT count(*) FROM conversions v WHERE affiliate_id = $1 AND {_NONE}", aff
        )
        assert blank == 9
        await conn.execute(backfill)
        await _check(conn, aff)
        await tr.rollback()  # leave the rows as the trigger wrote them


async def test_a_raw_report_groups_conversions_by_their_clicks_values(pool: asyncpg.Pool) -> None:
    aff, _, t0 = await _world(pool)
    for dims, want in (
        (["sub1"], {"a": 1, "b": 2, 'q"uote': 3, None: 4 + 5 + 10}),
        (["os"], {"iOS": 1 + 2 + 3 + 4, None: 5 + 10}),
        (["source"], {"fb": 2 + 4, None: 1 + 3 + 5 + 10}),
    ):
        spec = sql.Spec(dims=dims, start=t0 - timedelta(hours=1), end=t0 + timedelta(hours=1),
                        tz="UTC", filters={"partner": [str(aff)]})  # fmt: skip
        async with pool.acquire() as conn:
            spec.periods = await rates.load(conn, spec)
        text, args = sql.raw(spec)
        rows = await pool.fetch(text, *args)
        got = {}
        for r in rows[:-1]:
            row = orjson.loads(r[0])
            got[row["group"][dims[0]]] = Decimal(row["revenue"])
        assert got == {k: Decimal(v) for k, v in want.items()}, (dims, got)
