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

from ingest.clicks.copytext import NULL
from ingest.clicks.enrich import Enricher
from ingest.clicks.parse import Click, Parsed, parse_entries
from ingest.clicks.prepare import Prepared, prepare
from ingest.clicks.rows import CLICK_COLUMNS, IMPRESSION_COLUMNS
from ingest.clicks.unique import UniqueJudge
from ingest.partitions import Partitions
from tracker import metrics
from tracker.store.reports import rollups

__all__ = ["ClickWriter", "Parsed", "Prepared", "parse_entries"]

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
    RETURNING created_at, offer_id, affiliate_id, click_class, is_unique
), imp AS (
    INSERT INTO impressions ({", ".join(IMPRESSION_COLUMNS)})
    SELECT {", ".join(IMPRESSION_COLUMNS)} FROM impressions_stage
    ON CONFLICT DO NOTHING
    RETURNING created_at, offer_id, affiliate_id, click_class
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
        """events: checked clicks (ingest.clicks.parse.parse_wire); see ingest.clicks.prepare."""
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
