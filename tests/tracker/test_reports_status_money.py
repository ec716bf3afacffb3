"""Each status's money in the rollup (migrations 0071, 0073): what the writers keep (new
conversions, status changes) equals what the migration back-fills from the conversions,
and a report shows it apart per status (the ground-truth tests compare every status's
money with the raw rows)."""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources

import asyncpg
from redis.asyncio import Redis

from tests.tracker.reports_world import build
from tracker.settings import Settings

NOW = datetime(2026, 11, 5, 6, tzinfo=UTC)
_COLS = [f"{s}_{m}" for s in ("pending", "approved", "held", "rejected", "reversed")
         for m in ("revenue", "payout")]  # fmt: skip


async def test_the_back_fill_equals_what_the_writers_kept(
    settings: Settings, pool: asyncpg.Pool, redis: Redis
) -> None:
    w = await build(pool, redis, settings, seed=71, now=NOW)
    read = (f"SELECT span, t, affiliate_id, offer_id, {', '.join(_COLS)} FROM rollup_spans"
            " WHERE affiliate_id = ANY($1::int8[]) ORDER BY 1, 2, 3, 4")  # fmt: skip
    kept = [tuple(r) for r in await pool.fetch(read, w["partners"])]
    assert sum(1 for r in kept if any(r[4:])) > 100  # conversions of every status were kept
    assert {c for r in kept for c, v in zip(_COLS, r[4:], strict=True) if v} == set(_COLS)
    # every path of money's one conversion path moved them (reports_world._changes)
    ways = await pool.fetchrow(
        "SELECT count(*) FILTER (WHERE h.reason LIKE 'amended:%' AND h.to_status"
        "    IN ('held', 'rejected', 'reversed')) AS amended_uncounted,"
        "  count(*) FILTER (WHERE h.reason LIKE 'amended:%' AND h.to_status = 'held') AS held,"
        "  count(*) FILTER (WHERE h.from_status = 'held' AND c.currency = 'WCT'"
        "    AND h.to_status IN ('pending', 'approved')) AS repriced,"  # the rate arrived
        "  count(*) FILTER (WHERE h.reason LIKE 'override:%') AS overridden"
        "  FROM conversion_status_history h JOIN conversions c USING (conversion_id)"
        " WHERE c.affiliate_id = ANY($1::int8[])", w["partners"],
    )  # fmt: skip
    assert all(v > 0 for v in ways.values()), dict(ways)
    sql = resources.files("migrations").joinpath("0073_report_held_money.sql").read_text()
    back_fill = sql[sql.index("WITH f AS") :]
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            f"UPDATE rollup_spans SET {', '.join(f'{c} = 0' for c in _COLS)}"
            " WHERE affiliate_id = ANY($1::int8[])", w["partners"],
        )  # fmt: skip
        await conn.execute(back_fill)
        again = [tuple(r) for r in await conn.fetch(read, w["partners"])]
    assert again == kept
