"""Shared helpers of the ingest tests: an offer, clicks on the wire, rollup sums."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson
from redis.asyncio import Redis

from schemas.events import WIRE_VERSION
from tracker.domain.ids import uuid7, uuid7_time_ms


async def setup_offer(pool: asyncpg.Pool) -> tuple[int, int]:
    adv = await pool.fetchval(
        "INSERT INTO advertisers (name, postback_token) VALUES ('a', 't') RETURNING id"
    )
    aff = await pool.fetchval("INSERT INTO affiliates (name) VALUES ('p') RETURNING id")
    offer = await pool.fetchval(
        "INSERT INTO offers (advertiser_id, name, landing_url) "
        "VALUES ($1, 'o', 'https://x.example/') RETURNING id",
        adv,
    )
    return offer, aff


def click(offer: int, aff: int, i: int, cls: str = "human", **over: Any) -> dict[str, Any]:
    cid = uuid7()
    c: dict[str, Any] = {
        "click_id": str(cid), "ts": uuid7_time_ms(cid) / 1000, "link_id": 1, "link_code": "code",
        "offer_id": offer, "aff_id": aff, "subs": [f"s{i}", None, None, None, None],
        "ip": f"10.1.{i % 250}.{i % 200}", "ua": f"Mozilla/5.0 v{i}", "referer": "", "cls": cls,
    }  # fmt: skip
    c.update(over)
    return c


async def push(
    redis: Redis, stream: str, clicks: list[dict[str, Any]], per_entry: int = 100
) -> None:
    for start in range(0, len(clicks), per_entry):
        payload = orjson.dumps(clicks[start : start + per_entry])
        await redis.xadd(stream, {"v": WIRE_VERSION, "clicks": payload})


async def rollup(pool: asyncpg.Pool, aff: int) -> list[tuple[object, ...]]:
    """The partner's quarter-hour rows of the report rollup (rollup_spans), per offer:
    (quarter, offer, gross, unique, human, bot, impressions)."""
    rows = await pool.fetch(
        "SELECT t, offer_id, gross_clicks, unique_clicks, human_clicks, bot_clicks, impressions"
        " FROM rollup_spans WHERE span = 900 AND affiliate_id = $1 AND offer_id <> 0"
        " AND (gross_clicks, unique_clicks, human_clicks, bot_clicks, impressions)"
        " <> (0, 0, 0, 0, 0) ORDER BY 1, 2",
        aff,
    )
    return [tuple(r) for r in rows]


async def raw_counts(pool: asyncpg.Pool, aff: int) -> list[tuple[object, ...]]:
    """The rollup recomputed from the raw rows: what the rollup must equal."""
    rows = await pool.fetch(
        """WITH c AS (
               SELECT date_bin('15 minutes', created_at, 'epoch') AS t, offer_id,
                      count(*) FILTER (WHERE click_class <> 'head') AS gross,
                      count(*) FILTER (WHERE is_unique) AS uniq,
                      count(*) FILTER (WHERE click_class = 'human') AS human,
                      count(*) FILTER (WHERE click_class IN ('bot', 'preview', 'prefetch', 'blocked')) AS bot,
                      0 AS imp
                 FROM clicks WHERE affiliate_id = $1 GROUP BY 1, 2
               UNION ALL
               SELECT date_bin('15 minutes', created_at, 'epoch'), offer_id, 0, 0, 0, 0,
                      count(*) FILTER (WHERE click_class <> 'head')
                 FROM impressions WHERE affiliate_id = $1 GROUP BY 1, 2)
           SELECT t, offer_id, sum(gross)::bigint, sum(uniq)::bigint, sum(human)::bigint,
                  sum(bot)::bigint, sum(imp)::bigint
             FROM c GROUP BY 1, 2
           HAVING (sum(gross), sum(uniq), sum(human), sum(bot), sum(imp)) <> (0, 0, 0, 0, 0)
            ORDER BY 1, 2""",
        aff,
    )
    return [tuple(r) for r in rows]
