"""The split-test report of an offer's landers (issue 20), from the stored rows.

Per lander (and the offer's own landing URL, lander null): the human clicks that were
shown it in the range, the conversions of those clicks in a counted status (pending,
approved) and their payout. Conversions are counted by their click's time (a cohort), so
a variant's late conversions land on the clicks that earned them.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from tracker.domain.counted import paid_sql

_SQL = f"""
WITH c AS (
    SELECT coalesce(lander_id, 0) AS lander, count(*) AS clicks FROM clicks
     WHERE offer_id = $1 AND created_at >= $2 AND created_at < $3 AND {paid_sql()}{{scope}}
     GROUP BY 1
), v AS (
    SELECT coalesce(lander_id, 0) AS lander, count(*) AS conversions,
           coalesce(sum(payout), 0) AS payout
      FROM conversions
     WHERE offer_id = $1 AND click_at >= $2 AND click_at < $3 AND click_id IS NOT NULL
       AND status IN ('pending', 'approved'){{scope}}
     GROUP BY 1
)
SELECT nullif(coalesce(c.lander, v.lander), 0) AS lander_id, coalesce(c.clicks, 0) AS clicks,
       coalesce(v.conversions, 0) AS conversions, coalesce(v.payout, 0) AS payout
  FROM c FULL JOIN v ON c.lander = v.lander  -- 0: the landing URL (lander ids start at 1)
"""


async def variants(pool: asyncpg.Pool, offer_id: int, start: datetime, end: datetime,
                   affiliate_id: int | None) -> list[dict[str, Any]]:  # fmt: skip
    """Every lander of the offer (archived too) and the landing URL, with their figures."""
    args: list[Any] = [offer_id, start, end]
    scope = ""
    if affiliate_id is not None:
        args.append(affiliate_id)
        scope = f" AND affiliate_id = ${len(args)}"
    figures = {r["lander_id"]: dict(r) for r in await pool.fetch(_SQL.format(scope=scope), *args)}
    landers = await pool.fetch(
        "SELECT id, name, status, weight FROM offer_landers WHERE offer_id = $1 ORDER BY id",
        offer_id,
    )
    zero = {"clicks": 0, "conversions": 0, "payout": Decimal(0)}
    rows = []
    if None in figures or not landers:
        rows.append({"lander_id": None, "name": None, "status": None, "weight": None,
                     **{k: figures.get(None, zero)[k] for k in zero}})  # fmt: skip
    for d in landers:
        got = figures.get(d["id"], zero)
        rows.append({"lander_id": d["id"], "name": d["name"], "status": d["status"],
                     "weight": d["weight"], **{k: got[k] for k in zero}})  # fmt: skip
    return rows
