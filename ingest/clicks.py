"""Click and impression events → rows in Postgres, exactly once.

``prepare`` does the CPU and Redis work (enrichment, the unique verdicts,
COPY text) and can run while the previous batch is being written.
``write`` is one transaction: COPY into temporary staging tables, then one
statement that inserts ``ON CONFLICT DO NOTHING RETURNING`` into ``clicks``
and ``impressions`` and adds to the hourly rollup only the rows returned.
A replayed batch inserts nothing and therefore counts nothing.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date

import asyncpg

from ingest.enrich import Enricher
from ingest.parse import Click, Parsed, parse_entries
from ingest.partitions import Partitions
from ingest.rows import CLICK_STAGE, IMPRESSION_STAGE, click_row, day_of, impression_row
from ingest.unique import UniqueJudge
from tracker import metrics

__all__ = ["ClickWriter", "Parsed", "Prepared", "parse_entries"]

# Staging tables: every column nullable ('' is NULL in the COPY), time as epoch seconds.
_STAGES = (
    """CREATE TEMP TABLE IF NOT EXISTS clicks_stage (
        click_id uuid, ts float8, link_id bigint, link_code text, offer_id bigint,
        affiliate_id bigint, sub1 text, sub2 text, sub3 text, sub4 text, sub5 text, sub6 text,
        sub7 text, sub8 text, sub9 text, sub10 text, source text, params jsonb, ip_trunc inet,
        ip_hash text, user_agent text, referer text, country text, region text, city text,
        device text, os text, browser text, click_class text, is_unique boolean
    ) ON COMMIT DELETE ROWS""",
    """CREATE TEMP TABLE IF NOT EXISTS impressions_stage (
        impression_id uuid, ts float8, link_id bigint, offer_id bigint, affiliate_id bigint,
        click_class text, country text, device text
    ) ON COMMIT DELETE ROWS""",
)

_CLICK_COLUMNS = (
    "click_id", "created_at", "link_id", "link_code", "offer_id", "affiliate_id",
    "sub1", "sub2", "sub3", "sub4", "sub5", "sub6", "sub7", "sub8", "sub9", "sub10",
    "source", "params", "ip_trunc", "ip_hash", "user_agent", "referer",
    "country", "region", "city", "device", "os", "browser", "click_class", "is_unique",
)  # fmt: skip
_CLICK_SELECT = """click_id, to_timestamp(ts), link_id, link_code, offer_id, affiliate_id,
    sub1, sub2, sub3, sub4, sub5, sub6, sub7, sub8, sub9, sub10, source, params, ip_trunc,
    decode(ip_hash, 'hex'), user_agent, referer, coalesce(country, ''), coalesce(region, ''),
    coalesce(city, ''), coalesce(device, ''), coalesce(os, ''), coalesce(browser, ''),
    click_class, is_unique"""
_IMPRESSION_COLUMNS = (
    "impression_id, created_at, link_id, offer_id, affiliate_id, click_class, country, device"
)
_IMPRESSION_SELECT = """impression_id, to_timestamp(ts), link_id, offer_id, affiliate_id,
    click_class, coalesce(country, ''), coalesce(device, '')"""

_KEY = "hour, offer_id, affiliate_id, click_class, country, device"
_BOTS = "('bot', 'preview', 'prefetch')"

_INSERT = f"""
WITH ins AS (
    INSERT INTO clicks ({", ".join(_CLICK_COLUMNS)})
    SELECT {_CLICK_SELECT} FROM clicks_stage
    ON CONFLICT DO NOTHING
    RETURNING created_at, offer_id, affiliate_id, click_class, country, device, is_unique
), imp AS (
    INSERT INTO impressions ({_IMPRESSION_COLUMNS})
    SELECT {_IMPRESSION_SELECT} FROM impressions_stage
    ON CONFLICT DO NOTHING
    RETURNING created_at, offer_id, affiliate_id, click_class, country, device
), agg AS (
    SELECT date_trunc('hour', created_at) AS hour, offer_id, affiliate_id, click_class, country,
           device,
           count(*) FILTER (WHERE click_class <> 'head') AS gross,
           count(*) FILTER (WHERE is_unique) AS uniq,
           count(*) FILTER (WHERE click_class = 'human') AS human,
           count(*) FILTER (WHERE click_class IN {_BOTS}) AS bot,
           0::bigint AS impressions
      FROM ins GROUP BY 1, 2, 3, 4, 5, 6
    UNION ALL
    SELECT date_trunc('hour', created_at), offer_id, affiliate_id, click_class, country, device,
           0, 0, 0, 0, count(*) FILTER (WHERE click_class <> 'head')
      FROM imp GROUP BY 1, 2, 3, 4, 5, 6
), roll AS (
    INSERT INTO rollup_hourly AS r ({_KEY}, gross_clicks, unique_clicks, human_clicks,
                                    bot_clicks, impressions)
    SELECT {_KEY}, sum(gross)::bigint, sum(uniq)::bigint, sum(human)::bigint, sum(bot)::bigint,
           sum(impressions)::bigint
      FROM agg GROUP BY 1, 2, 3, 4, 5, 6
     ORDER BY 1, 2, 3, 4, 5, 6  -- one lock order for every worker: no deadlocks between them
    ON CONFLICT ({_KEY}) DO UPDATE
       SET gross_clicks = r.gross_clicks + EXCLUDED.gross_clicks,
           unique_clicks = r.unique_clicks + EXCLUDED.unique_clicks,
           human_clicks = r.human_clicks + EXCLUDED.human_clicks,
           bot_clicks = r.bot_clicks + EXCLUDED.bot_clicks,
           impressions = r.impressions + EXCLUDED.impressions
)
SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM imp)
"""


@dataclass
class Prepared:
    """A batch ready for Postgres: COPY text for each staging table."""

    clicks: int = 0
    impressions: int = 0
    click_text: bytes = b""
    impression_text: bytes = b""
    days: set[date] = field(default_factory=set)

    @property
    def rows(self) -> int:
        return self.clicks + self.impressions


class ClickWriter:
    def __init__(
        self, pool: asyncpg.Pool, unique: UniqueJudge, enricher: Enricher, timeout_s: float
    ) -> None:
        self._pool = pool
        self._unique = unique
        self._enricher = enricher
        self._timeout = timeout_s
        self._partitions = Partitions()

    async def prepare(self, events: list[Click]) -> Prepared:
        """events: checked clicks (ingest.parse.parse_wire)."""
        days = [day_of(c.ts) for c in events]
        out = Prepared(days=set(days))
        if not events:
            return out
        await self._enricher.salts.load(self._pool, out.days)
        enrich = self._enricher.enrich
        judged = [
            (str(c.click_id), c.offer_id, c.ip, c.ua)
            for c in events
            if c.kind == "click" and c.cls != "head"
        ]
        verdicts = iter(await self._unique.judge(judged))
        clicks: list[str] = []
        impressions: list[str] = []
        for c, day in zip(events, days, strict=True):
            e = enrich(c, day)
            if c.kind == "impression":
                impressions.append(impression_row(c, e))
            else:
                unique = c.cls != "head" and next(verdicts)
                clicks.append(click_row(c, e, unique))
        out.clicks, out.impressions = len(clicks), len(impressions)
        if clicks:
            out.click_text = ("\n".join(clicks) + "\n").encode()
        if impressions:
            out.impression_text = ("\n".join(impressions) + "\n").encode()
        return out

    async def write(self, batch: Prepared) -> tuple[int, int]:
        """Insert what is new; return (clicks, impressions) this call inserted."""
        if not batch.rows:
            return 0, 0
        await self._partitions.ensure(self._pool, batch.days)
        t = self._timeout
        async with self._pool.acquire(timeout=t) as conn, conn.transaction():
            for stage in _STAGES:
                await conn.execute(stage, timeout=t)
            if batch.click_text:
                await conn.copy_to_table(
                    "clicks_stage", source=io.BytesIO(batch.click_text),
                    columns=CLICK_STAGE, format="text", null="", timeout=t,
                )  # fmt: skip
            if batch.impression_text:
                await conn.copy_to_table(
                    "impressions_stage", source=io.BytesIO(batch.impression_text),
                    columns=IMPRESSION_STAGE, format="text", null="", timeout=t,
                )  # fmt: skip
            row = await conn.fetchrow(_INSERT, timeout=t)
        assert row is not None
        clicks, impressions = int(row[0]), int(row[1])
        metrics.ROWS_INGESTED.labels("clicks").inc(clicks)
        metrics.ROWS_DUPLICATE.labels("clicks").inc(batch.clicks - clicks)
        metrics.ROWS_INGESTED.labels("impressions").inc(impressions)
        metrics.ROWS_DUPLICATE.labels("impressions").inc(batch.impressions - impressions)
        return clicks, impressions
