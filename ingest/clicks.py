"""Click and impression events → rows in Postgres, exactly once.

``prepare`` does the CPU and Redis work (enrichment, the unique verdicts,
COPY text, the batch's rollup) and runs while the previous batch is being
written. ``write`` is one transaction with two paths (docs/adr/0021):

- fast: COPY straight into ``clicks``/``impressions`` inside a savepoint and
  add the batch's rollup. COPY is all or nothing, so when it succeeds every
  row of the batch was inserted by this transaction and the batch's rollup
  *is* the rollup of the inserted rows.
- replay: when any row is already there (a unique violation: the batch, or
  part of it, was committed before), roll back to the savepoint, COPY into
  temporary staging tables and ``INSERT … ON CONFLICT DO NOTHING RETURNING``;
  the rollup is computed from the returned rows only, so a replayed batch
  counts nothing twice.
"""

from __future__ import annotations

import io

import asyncpg

from ingest.copytext import NULL
from ingest.enrich import Enricher
from ingest.parse import Click, Parsed, parse_entries
from ingest.partitions import Partitions
from ingest.prepare import Prepared, prepare
from ingest.rows import CLICK_COLUMNS, IMPRESSION_COLUMNS
from ingest.unique import UniqueJudge
from tracker import metrics
from tracker.store.reports import rollups

__all__ = ["ClickWriter", "Parsed", "Prepared", "parse_entries"]

_KEY = "hour, offer_id, affiliate_id, click_class, country, device"
_BOTS = ("bot", "preview", "prefetch")
_SET = """gross_clicks = r.gross_clicks + EXCLUDED.gross_clicks,
          unique_clicks = r.unique_clicks + EXCLUDED.unique_clicks,
          human_clicks = r.human_clicks + EXCLUDED.human_clicks,
          bot_clicks = r.bot_clicks + EXCLUDED.bot_clicks,
          impressions = r.impressions + EXCLUDED.impressions"""
_COUNTS = "gross_clicks, unique_clicks, human_clicks, bot_clicks, impressions"

# Fast path: the batch's own rollup, computed in Python, sorted (one lock order).
_ROLLUP = f"""
INSERT INTO rollup_hourly AS r ({_KEY}, {_COUNTS})
SELECT to_timestamp(h), o, a, c, co, d, g, u, hu, b, i
  FROM unnest($1::float8[], $2::int8[], $3::int8[], $4::text[], $5::text[], $6::text[],
              $7::int8[], $8::int8[], $9::int8[], $10::int8[], $11::int8[])
       AS t(h, o, a, c, co, d, g, u, hu, b, i)
ON CONFLICT ({_KEY}) DO UPDATE SET {_SET}
"""

_STAGES = (
    "CREATE TEMP TABLE IF NOT EXISTS clicks_stage "
    "(LIKE clicks INCLUDING DEFAULTS) ON COMMIT DELETE ROWS",
    "CREATE TEMP TABLE IF NOT EXISTS impressions_stage "
    "(LIKE impressions INCLUDING DEFAULTS) ON COMMIT DELETE ROWS",
)

# Replay path: insert what is new, roll up only the rows returned.
_INSERT = f"""
WITH ins AS (
    INSERT INTO clicks ({", ".join(CLICK_COLUMNS)})
    SELECT {", ".join(CLICK_COLUMNS)} FROM clicks_stage
    ON CONFLICT DO NOTHING
    RETURNING created_at, offer_id, affiliate_id, click_class, country, device, is_unique
), imp AS (
    INSERT INTO impressions ({", ".join(IMPRESSION_COLUMNS)})
    SELECT {", ".join(IMPRESSION_COLUMNS)} FROM impressions_stage
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
    INSERT INTO rollup_hourly AS r ({_KEY}, {_COUNTS})
    SELECT {_KEY}, sum(gross)::bigint, sum(uniq)::bigint, sum(human)::bigint, sum(bot)::bigint,
           sum(impressions)::bigint
      FROM agg GROUP BY 1, 2, 3, 4, 5, 6
     ORDER BY 1, 2, 3, 4, 5, 6  -- one lock order for every worker
    ON CONFLICT ({_KEY}) DO UPDATE SET {_SET}
), spans AS ({rollups.clicks_cte("ins", "imp")}
)
SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM imp)
"""


class ClickWriter:
    def __init__(
        self, pool: asyncpg.Pool, unique: UniqueJudge, enricher: Enricher, timeout_s: float
    ) -> None:
        self._pool = pool
        self._unique = unique
        self._enricher = enricher
        self._timeout = timeout_s
        self._partitions = Partitions()

    async def prepare(self, events: list[Click], *, controls: bool = True) -> Prepared:
        """events: checked clicks (ingest.parse.parse_wire); see ingest.prepare."""
        return await prepare(events, self._enricher, self._unique, self._pool, controls=controls)

    async def _copy(self, conn: asyncpg.Connection, table: str, text: bytes,
                    columns: tuple[str, ...]) -> None:  # fmt: skip
        if text:
            await conn.copy_to_table(table, source=io.BytesIO(text), columns=columns,
                                     format="text", null=NULL, timeout=self._timeout)  # fmt: skip

    async def write(self, batch: Prepared) -> tuple[int, int]:
        """Insert what is new; return (clicks, impressions) this call inserted."""
        if not batch.rows:
            return 0, 0
        await self._partitions.ensure(self._pool, batch.days)
        t = self._timeout
        async with self._pool.acquire(timeout=t) as conn, conn.transaction():
            try:
                async with conn.transaction():  # a savepoint: the fast path
                    await self._copy(conn, "clicks", batch.click_text, CLICK_COLUMNS)
                    await self._copy(conn, "impressions", batch.impression_text,
                                     IMPRESSION_COLUMNS)  # fmt: skip
                    await conn.execute(_ROLLUP, *batch.rollup_args(), timeout=t)
                    await conn.execute(rollups.CLICKS, *batch.spans.args(), timeout=t)
                clicks, impressions = batch.clicks, batch.impressions
            except asyncpg.UniqueViolationError:  # some rows are in already: a replay
                for stage in _STAGES:
                    await conn.execute(stage, timeout=t)
                await self._copy(conn, "clicks_stage", batch.click_text, CLICK_COLUMNS)
                await self._copy(conn, "impressions_stage", batch.impression_text,
                                 IMPRESSION_COLUMNS)  # fmt: skip
                row = await conn.fetchrow(_INSERT, timeout=t)
                assert row is not None
                clicks, impressions = int(row[0]), int(row[1])
        metrics.ROWS_INGESTED.labels("clicks").inc(clicks)
        metrics.ROWS_DUPLICATE.labels("clicks").inc(batch.clicks - clicks)
        metrics.ROWS_INGESTED.labels("impressions").inc(impressions)
        metrics.ROWS_DUPLICATE.labels("impressions").inc(batch.impressions - impressions)
        return clicks, impressions
