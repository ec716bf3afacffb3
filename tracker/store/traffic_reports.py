"""The traffic-quality reports, from the stored rows: click classes side by side, and the
click-to-conversion time (CTIT) distribution that shows click injection and spamming.

Kept apart from the main report engine (tracker.store.reports); the counted-click rule
is the same (tracker.domain.counted).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from tracker.domain.counted import click_sql, paid_sql

_DIMS = {"offer": "offer_id", "partner": "affiliate_id",
         "day": "to_char((created_at AT TIME ZONE $3::text)::date, 'YYYY-MM-DD')"}  # fmt: skip
_NAMES = {"offer": "offer_id", "partner": "affiliate_id", "day": "day"}
_CLICK = click_sql()
_METRICS = (
    f"count(*) FILTER (WHERE {_CLICK}) AS gross",
    f"count(*) FILTER (WHERE {paid_sql()}) AS human",
    "count(*) FILTER (WHERE is_unique) AS unique",
    "count(*) FILTER (WHERE click_class = 'bot') AS bot",
    "count(*) FILTER (WHERE click_class = 'preview') AS preview",
    "count(*) FILTER (WHERE click_class = 'prefetch') AS prefetch",
    "count(*) FILTER (WHERE click_class = 'blocked') AS blocked",
    f"count(*) FILTER (WHERE {_CLICK} AND datacenter) AS datacenter",
    f"count(*) FILTER (WHERE {_CLICK} AND traffic_rule LIKE 'flag:%') AS flagged",
)
# CTIT buckets: (name, exclusive upper bound in seconds); the last has none.
BUCKETS: tuple[tuple[str, int | None], ...] = (
    ("<10s", 10), ("10s-30s", 30), ("30s-1m", 60), ("1m-5m", 300), ("5m-30m", 1800),
    ("30m-1h", 3600), ("1h-6h", 21600), ("6h-24h", 86400), ("1d-3d", 259200),
    ("3d-7d", 604800), ("7d-30d", 2592000), (">30d", None),
)  # fmt: skip


def _scope(args: list[Any], offer_id: int | None, affiliate_id: int | None,
           advertiser_id: int | None, advertiser_column: str | None) -> str:  # fmt: skip
    sql = ""
    for column, value in (("offer_id", offer_id), ("affiliate_id", affiliate_id)):
        if value is not None:
            args.append(value)
            sql += f" AND {column} = ${len(args)}"
    if advertiser_id is not None:
        args.append(advertiser_id)
        sql += (f" AND {advertiser_column} = ${len(args)}" if advertiser_column else
                f" AND offer_id IN (SELECT id FROM offers WHERE advertiser_id = ${len(args)})")  # fmt: skip
    return sql


async def traffic(pool: asyncpg.Pool, dims: list[str], start: datetime, end: datetime, tz: str,
                  *, offer_id: int | None, affiliate_id: int | None, advertiser_id: int | None,
                  limit: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:  # fmt: skip
    """(rows, totals) of the click classes, grouped by ``dims``."""
    args: list[Any] = [start, end, tz]
    where = "created_at >= $1 AND created_at < $2 AND $3::text IS NOT NULL"
    where += _scope(args, offer_id, affiliate_id, advertiser_id, None)
    cols = [f"{_DIMS[d]} AS {_NAMES[d]}" for d in dims]
    groups = ", ".join(str(i) for i in range(1, len(dims) + 1))
    args.append(limit)
    rows = await pool.fetch(
        f"SELECT {', '.join([*cols, *_METRICS])} FROM clicks WHERE {where}"
        f" GROUP BY {groups} ORDER BY {groups} LIMIT ${len(args)}",
        *args,
    )
    totals = await pool.fetchrow(f"SELECT {', '.join(_METRICS)} FROM clicks WHERE {where}",
                                 *args[:-1])  # fmt: skip
    return [dict(r) for r in rows], dict(totals) if totals else {}


async def ctit(pool: asyncpg.Pool, dims: list[str], start: datetime, end: datetime, *,
               offer_id: int | None, affiliate_id: int | None, advertiser_id: int | None,
               limit: int) -> list[dict[str, Any]]:  # fmt: skip
    """Per group: attributed conversions, the median seconds from click to conversion and
    the count in each bucket of BUCKETS."""
    args: list[Any] = [start, end]
    where = "created_at >= $1 AND created_at < $2 AND click_at IS NOT NULL"
    where += _scope(args, offer_id, affiliate_id, advertiser_id, "advertiser_id")
    cols = [_NAMES[d] for d in dims]
    groups = ", ".join(str(i) for i in range(1, len(dims) + 1))
    buckets, low = [], None
    for name, high in BUCKETS:
        cond = " AND ".join(c for c in (low and f"s >= {low}", high and f"s < {high}") if c)
        buckets.append(f'count(*) FILTER (WHERE {cond}) AS "{name}"')
        low = high
    args.append(limit)
    rows = await pool.fetch(
        f"""SELECT {", ".join(cols)}, count(*) AS conversions,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY s) AS median_seconds,
                   {", ".join(buckets)}
              FROM (SELECT offer_id, affiliate_id,
                           greatest(extract(epoch FROM created_at - click_at), 0) AS s
                      FROM conversions WHERE {where}) c
             GROUP BY {groups} ORDER BY {groups} LIMIT ${len(args)}""",
        *args,
    )
    out = []
    for r in rows:
        row = {name: r[name] for name in cols}
        row["conversions"] = r["conversions"]
        median = r["median_seconds"]
        row["median_seconds"] = None if median is None else float(median)
        row["buckets"] = [{"bucket": name, "up_to_seconds": high, "conversions": r[name]}
                          for name, high in BUCKETS]  # fmt: skip
        out.append(row)
    return out
