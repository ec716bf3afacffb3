"""Run a report: pick the source, query, derive ratios, total, sort, cut, hide.

What a key may see comes from the table of tracker/domain/visibility.py (docs/adr/0061,
0085): a partner never sees revenue, profit or RPC (and only its own rows: the scope is a
filter in the SQL); an advertiser sees revenue (its cost) but not our payout, profit or
EPC, unless it is in-house; an admin sees all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo

import asyncpg
import orjson

from schemas.reports import STATUSES, TIME_DIMS
from tracker.domain import visibility
from tracker.store.reports import common, days, parts, plan, rates, sql

_MONEY = ("revenue", "payout", "profit", "epc", "rpc",
          *(f"{s}_{m}" for s in STATUSES for m in ("revenue", "payout")))  # fmt: skip
# By audience (tracker.domain.visibility.audience); the roles' names are audiences too.
_HIDE: dict[str, tuple[str, ...]] = {
    who: tuple(m for m in _MONEY if not visibility.sees("ReportRow", m, who))
    for who in visibility.AUDIENCES
}


@dataclass
class Answer:
    source: Literal["rollup", "raw"]
    rows: orjson.Fragment  # a JSON array of the answer's rows, as ``Report.rows``
    totals: orjson.Fragment  # a JSON object, as ``Report.totals``
    total_rows: int


_ADVERTISERS = "SELECT id, advertiser_id FROM offers"


async def _advertisers(conn: asyncpg.Connection) -> list[int | None]:
    """Each offer's advertiser, indexed by offer id (1-based, as SQL arrays are)."""
    pairs = await conn.fetch(_ADVERTISERS)
    out: list[int | None] = [None] * max((p[0] for p in pairs), default=0)
    for offer, advertiser in pairs:
        out[offer - 1] = advertiser
    return out


def hidden(audience: str) -> tuple[str, ...]:
    """The metrics this audience (visibility.audience of the key) may not see."""
    return _HIDE[audience]


async def run(pool: asyncpg.Pool, spec: sql.Spec, role: str, *, sort: str | None,
              limit: int, in_parts: bool = True) -> Answer:  # fmt: skip
    """``in_parts``: a large report by partner and day may run as two queries at once
    (reports/parts.py); the answer is the same either way."""
    units = [d for d in spec.dims if d in TIME_DIMS]
    spec.sort = sort  # the query sorts: rows come in the answer's order
    spec.hidden = _HIDE[role]
    # one snapshot: the rate periods read here are those the query joins to
    async with pool.acquire() as conn, conn.transaction(readonly=True,
                                                        isolation="repeatable_read"):  # fmt: skip
        await conn.execute(common.SETTINGS)
        spec.periods = await rates.load(conn, spec)
        if "advertiser" in {*spec.dims, *spec.filters}:
            spec.advertisers = await _advertisers(conn)
        pieces = buckets = None
        if set(spec.dims) <= sql.ROLLUP_DIMS and set(spec.filters) <= sql.ROLLUP_DIMS:
            pieces, buckets = plan.cover_both(spec.start, spec.end, units, ZoneInfo(spec.tz),
                                              spec.periods.cuts(), await days.load(conn))  # fmt: skip
        records = None
        if pieces is not None and buckets is not None and in_parts:
            halves = await parts.halves(conn, spec, buckets, pieces)
            if halves is not None:
                records = await parts.run(pool, conn, halves)
        if records is None:
            if pieces is not None:
                text, args = sql.rollup(spec, pieces, buckets)
            else:
                # raw rows: let the scan and the grouping of clicks run in parallel workers
                await conn.execute("SET LOCAL parallel_tuple_cost = 0.001")
                text, args = sql.raw(spec)
            records = await conn.fetch(text, *args)
    source: Literal["rollup", "raw"] = "rollup" if pieces is not None else "raw"
    *body, last = records  # ORDER BY total: the GROUPING SETS row over everything comes last
    assert last[1] and not (body and body[-1][1])
    # each row is JSON text made by the query (shape.project): nothing to build here
    rows = orjson.Fragment("[" + ",".join([rec[0] for rec in body[:limit]]) + "]")
    return Answer(source, rows, orjson.Fragment(last[0]), len(body))
