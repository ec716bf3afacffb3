"""A large report by partner and local day, run as two parts at once (docs/adr/0072).

A 30-day report by partner and day reads one rollup row per partner and day and turns
each into the JSON of an answer row: work the query does alone on one core while the
other waits. Split by the first grouped dimension (partner ids below and from the
median, or earlier and later days), the two parts run on two connections that share
one snapshot (``pg_export_snapshot``), so they read the same rows as one query would.
The first part's rows all sort before the second's: the answer is the two in turn.
Each part's total row comes back as numbers; their sums are shaped by the same SQL.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from decimal import Decimal
from typing import Any

import asyncpg

from tracker.store.reports import common, daily, shape, sql
from tracker.store.reports.common import Pieces

# fewer local buckets than this: one query (two would cost more than they save)
MIN_PIECES = 7
_MEDIAN = "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY id) FROM affiliates"

Part = tuple[sql.Spec, Pieces, Pieces]  # the spec, its buckets, its cut pieces


async def halves(
    conn: asyncpg.Connection, spec: sql.Spec, buckets: Pieces, pieces: Pieces
) -> list[Part] | None:
    """The two parts of a report that can run in parts, else None: only a report by partner
    and time that reads one piece per local bucket (``buckets``), in the default order.
    ``pieces``: the same range cut at the rate changes (sql.rollup)."""
    if spec.sort is not None or len(buckets) < MIN_PIECES or not daily.per_bucket(spec, buckets):
        return None
    one = replace(spec, raw_total=True)
    if spec.dims[0] == "partner" and spec.affiliate_id is None:
        wanted = sorted({int(v) for v in spec.filters.get("partner", ())})
        mid = wanted[len(wanted) // 2] if wanted else await conn.fetchval(_MEDIAN)
        if len(wanted) != 1 and mid is not None:
            return [(replace(one, partners=(None, mid)), buckets, pieces),
                    (replace(one, partners=(mid, None)), buckets, pieces)]  # fmt: skip
    # the first grouped value is a time bucket (or one partner's): earlier days, then later
    ordered = sorted(buckets, key=lambda p: p[1])
    cut = ordered[len(ordered) // 2][1]
    return [(one, ordered[: len(ordered) // 2], [p for p in pieces if p[1] < cut]),
            (one, ordered[len(ordered) // 2 :], [p for p in pieces if p[1] >= cut])]  # fmt: skip


async def run(
    pool: asyncpg.Pool, conn: asyncpg.Connection, parts: list[Part]
) -> list[asyncpg.Record] | None:
    """The records of one query over the whole report (rows, then the total row), from the
    parts run at once; None when the pool has no idle connection right now. ``conn`` is in
    the report's repeatable-read transaction."""
    # Only with a connection idle now: the pool's queue is not empty, so the acquire never
    # waits for another request to release one (at worst it opens a new connection). No
    # acquire timeout: a timed-out acquire can lose a connection (MagicStack/asyncpg#955).
    if pool.get_idle_size() == 0:
        return None
    other = await pool.acquire()
    try:
        snapshot = await conn.fetchval("SELECT pg_export_snapshot()")
        async with other.transaction(readonly=True, isolation="repeatable_read"):
            await other.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            await other.execute(common.SETTINGS)
            (a_text, a_args), (b_text, b_args) = (
                sql.rollup(spec, pieces, buckets) for spec, buckets, pieces in parts
            )
            # both to the end, whatever happens to one: a connection is released idle
            got = await asyncio.gather(conn.fetch(a_text, *a_args), other.fetch(b_text, *b_args),
                                       return_exceptions=True)  # fmt: skip
    finally:
        await pool.release(other)
    for g in got:
        if isinstance(g, BaseException):
            raise g
    first, second = (g for g in got if not isinstance(g, BaseException))
    sums: list[Decimal] = [
        (x or Decimal(0)) + (y or Decimal(0))
        for x, y in zip(first[-1][2], second[-1][2], strict=True)
    ]
    text, args = shape.total(parts[0][0], sums)
    total: list[Any] = await conn.fetch(text, *args)
    return [*first[:-1], *second[:-1], *total]
