"""The benchmark's ground truth: a report computed by one plain scan of the raw rows.

Nothing here shares code with tracker/store/reports: each click, impression and conversion
in the range is one row of facts, a click and an impression priced with the rate row in
effect at its time (a lateral lookup in ``offer_click_rates``), grouped by the report's
dimensions. Slow (seconds) and obviously right; the benchmark compares every answer with it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

# a dimension of the benchmark's reports → its SQL over a row x of any of the three tables
_DIMS = {
    "partner": "x.affiliate_id",
    "sub1": "x.sub1",
    "day": "to_char(x.created_at AT TIME ZONE $3, 'YYYY-MM-DD')",
}
_RATE = """LEFT JOIN LATERAL (
    SELECT * FROM offer_click_rates s WHERE s.offer_id = x.offer_id AND s.valid_from <= x.created_at
     ORDER BY s.valid_from DESC LIMIT 1) r ON true"""
_SQL = """
SELECT {dims}, sum(g)::int8, sum(u)::int8, sum(h)::int8, sum(b)::int8, sum(i)::int8,
       sum(p)::int8, sum(a)::int8, sum(rj)::int8, sum(rv)::int8, sum(rev), sum(pay)
  FROM (
    SELECT {x}, (x.click_class <> 'head')::int AS g, x.is_unique::int AS u,
           (x.click_class = 'human')::int AS h,
           (x.click_class IN ('bot', 'preview', 'prefetch', 'blocked'))::int AS b, 0 AS i, 0 AS p, 0 AS a,
           0 AS rj, 0 AS rv,
           coalesce(r.cpc_revenue * CASE WHEN r.cpc_basis = 'unique' THEN x.is_unique::int
                    ELSE (x.click_class = 'human')::int END, 0) AS rev,
           coalesce(r.cpc_payout * CASE WHEN r.cpc_basis = 'unique' THEN x.is_unique::int
                    ELSE (x.click_class = 'human')::int END, 0) AS pay
      FROM clicks x {rate} WHERE x.created_at >= $1 AND x.created_at < $2 AND $3::text <> ''
    UNION ALL
    SELECT {x}, 0, 0, 0, 0, (x.click_class <> 'head')::int, 0, 0, 0, 0,
           coalesce(r.cpm_revenue * (x.click_class <> 'head')::int / 1000, 0),
           coalesce(r.cpm_payout * (x.click_class <> 'head')::int / 1000, 0)
      FROM impressions x {rate} WHERE x.created_at >= $1 AND x.created_at < $2
    UNION ALL
    SELECT {x}, 0, 0, 0, 0, 0, (x.status = 'pending')::int, (x.status = 'approved')::int,
           (x.status = 'rejected')::int, (x.status = 'reversed')::int,
           CASE WHEN x.status IN ('pending', 'approved') THEN x.revenue ELSE 0 END,
           CASE WHEN x.status IN ('pending', 'approved') THEN x.payout ELSE 0 END
      FROM conversions x
     WHERE x.created_at >= $1 AND x.created_at < $2 AND x.offer_id IS NOT NULL
       AND x.affiliate_id IS NOT NULL
  ) f
 GROUP BY {by}"""
NAMES = ("gross_clicks", "unique_clicks", "human_clicks", "bot_clicks", "impressions", "pending",
         "approved", "rejected", "reversed", "revenue", "payout")  # fmt: skip


async def scan(pool: asyncpg.Pool, dims: list[str], start: datetime, end: datetime,
               tz: str) -> dict[tuple[Any, ...], tuple[Any, ...]]:  # fmt: skip
    """Each group's figures (NAMES), by the tuple of its dimensions' values."""
    names = [f"d{k}" for k in range(len(dims))]
    exprs = [f"x.params ->> '{d[6:]}'" if d.startswith("param:") else _DIMS[d] for d in dims]
    x = ", ".join(f"{e} AS {n}" for e, n in zip(exprs, names, strict=True))
    sql = _SQL.format(dims=", ".join(names), x=x, rate=_RATE, by=", ".join(names))
    async with pool.acquire() as conn:
        await conn.execute("SET work_mem = '256MB'")
        rows = await conn.fetch(sql, start, end, tz, timeout=1800)
    n = len(dims)
    return {tuple(r[:n]): tuple(r[n:]) for r in rows}


def differences(answer: dict[str, Any], truth: dict[tuple[Any, ...], tuple[Any, ...]],
                dims: list[str]) -> list[str]:  # fmt: skip
    """What the report's rows got wrong (empty: every row equals the scan, and no row is
    missing or extra)."""
    got = {tuple(r["group"][d] for d in dims): r for r in answer["rows"]}
    out = [f"missing {k}" for k in truth.keys() - got.keys()]
    out += [f"extra {k}" for k in got.keys() - truth.keys()]
    for key in got.keys() & truth.keys():
        row = got[key]
        for name, want in zip(NAMES, truth[key], strict=True):
            value = Decimal(row[name]) if name in ("revenue", "payout") else row[name]
            if value != want:
                out.append(f"{key} {name}: {value} != {want}")
    return out
