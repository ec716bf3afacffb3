"""Reports: from the hourly rollup when the time zone allows, else from raw rows.

An hourly rollup can only be re-bucketed into local days when the zone's
offset is a whole number of hours over the whole range (UTC, Europe/Paris…).
For zones such as Asia/Kolkata (+05:30) the report is computed from the raw
clicks and conversions, so it stays exact.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

import asyncpg

_KEY_SQL = {
    "affiliate": ("affiliate_id", "affiliate_id"),
    "offer": ("offer_id", "offer_id"),
    "day": (
        "to_char(date_trunc('day', hour AT TIME ZONE $3), 'YYYY-MM-DD')",
        "to_char(date_trunc('day', created_at AT TIME ZONE $3), 'YYYY-MM-DD')",
    ),
}


def whole_hour_zone(tz: str, start: datetime, end: datetime) -> bool:
    zone = ZoneInfo(tz)
    t = start
    step = timedelta(days=1)
    while True:
        off = t.astimezone(zone).utcoffset()
        if off is None or off.total_seconds() % 3600:
            return False
        if t >= end:
            return True
        t = min(t + step, end)


async def report(
    pool: asyncpg.Pool,
    group_by: str,
    start: datetime,
    end: datetime,
    tz: str,
    *,
    affiliate_id: int | None = None,
    advertiser_id: int | None = None,
) -> tuple[Literal["rollup", "raw"], list[dict[str, Any]]]:
    rollup_key, raw_key = _KEY_SQL[group_by]
    scope = ""
    args: list[Any] = [start, end, tz]
    if affiliate_id is not None:
        args.append(affiliate_id)
        scope += f" AND affiliate_id = ${len(args)}"
    if advertiser_id is not None:
        args.append(advertiser_id)
        scope += f" AND offer_id IN (SELECT id FROM offers WHERE advertiser_id = ${len(args)})"
    if whole_hour_zone(tz, start, end) and start.minute == 0 and end.minute == 0:
        source: Literal["rollup", "raw"] = "rollup"
        sql = f"""
            SELECT {rollup_key} AS key,
                   sum(gross_clicks)::bigint AS gross_clicks, sum(unique_clicks)::bigint AS unique_clicks,
                   sum(human_clicks)::bigint AS human_clicks, sum(bot_clicks)::bigint AS bot_clicks,
                   sum(conversions)::bigint AS conversions,
                   sum(revenue) AS revenue, sum(payout) AS payout
              FROM rollup_hourly
             WHERE hour >= $1 AND hour < $2 AND $3::text IS NOT NULL {scope}
             GROUP BY 1 ORDER BY 1"""
    else:
        source = "raw"
        sql = f"""
            WITH c AS (
                SELECT {raw_key} AS key, count(*) FILTER (WHERE click_class <> 'head') AS gross_clicks,
                       count(*) FILTER (WHERE is_unique) AS unique_clicks,
                       count(*) FILTER (WHERE click_class = 'human') AS human_clicks,
                       count(*) FILTER (WHERE click_class IN ('bot', 'preview', 'prefetch')) AS bot_clicks
                  FROM clicks WHERE created_at >= $1 AND created_at < $2 AND $3::text IS NOT NULL
                       {scope} GROUP BY 1),
            v AS (
                SELECT {raw_key} AS key, count(*) AS conversions,
                       sum(revenue) AS revenue, sum(payout) AS payout
                  FROM conversions
                 WHERE created_at >= $1 AND created_at < $2 AND status IN ('pending', 'approved')
                       {scope} GROUP BY 1)
            SELECT coalesce(c.key, v.key) AS key,
                   coalesce(c.gross_clicks, 0) AS gross_clicks, coalesce(c.unique_clicks, 0) AS unique_clicks,
                   coalesce(c.human_clicks, 0) AS human_clicks, coalesce(c.bot_clicks, 0) AS bot_clicks,
                   coalesce(v.conversions, 0) AS conversions,
                   coalesce(v.revenue, 0) AS revenue, coalesce(v.payout, 0) AS payout
              FROM c FULL JOIN v ON v.key = c.key ORDER BY 1"""
    rows = [dict(r) for r in await pool.fetch(sql, *args)]
    for r in rows:
        r["revenue"] = Decimal(r["revenue"] or 0)
        r["payout"] = Decimal(r["payout"] or 0)
    return source, rows
