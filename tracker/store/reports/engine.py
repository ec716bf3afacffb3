"""Run a report: pick the source, query, derive ratios, total, sort, cut, hide.

What a role may see (docs/adr/0061): a partner never sees revenue, profit or
RPC (and only its own rows: the scope is a filter in the SQL); an advertiser
sees revenue (its cost) but not our payout, profit or EPC; an admin sees all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo

import asyncpg

from schemas.reports import COUNTS, TIME_DIMS
from tracker.store.reports import days, plan, rates, sql
from tracker.store.reports.shape import OUT

_NAMES = (*OUT, "conversions", "key")  # a query row after the grouped values

_HIDE: dict[str, tuple[str, ...]] = {
    "admin": (),
    "affiliate": ("revenue", "profit", "rpc"),
    "advertiser": ("payout", "profit", "epc"),
}


@dataclass
class Answer:
    source: Literal["rollup", "raw"]
    rows: list[dict[str, Any]]
    totals: dict[str, Any]
    total_rows: int


def hidden(role: str) -> tuple[str, ...]:
    """The metrics this role may not see."""
    return _HIDE[role]


async def run(pool: asyncpg.Pool, spec: sql.Spec, role: str, *, sort: str | None,
              limit: int) -> Answer:  # fmt: skip
    units = [d for d in spec.dims if d in TIME_DIMS]
    spec.sort = sort  # the query sorts: rows come in the answer's order
    spec.hidden = _HIDE[role]
    # one snapshot: the rate periods read here are those the query joins to
    async with pool.acquire() as conn, conn.transaction(readonly=True,
                                                        isolation="repeatable_read"):  # fmt: skip
        # a grouping by sub-id holds tens of thousands of groups: keep them in memory
        await conn.execute("SET LOCAL work_mem = '64MB'")
        spec.periods = await rates.load(conn, spec)
        pieces = None
        if set(spec.dims) <= sql.ROLLUP_DIMS and set(spec.filters) <= sql.ROLLUP_DIMS:
            cuts = spec.periods.cuts()
            phases = await days.load(conn)
            pieces = plan.cover(spec.start, spec.end, units, ZoneInfo(spec.tz), cuts, phases)
        if pieces is not None:
            text, args = sql.rollup(spec, pieces)
        else:
            # raw rows: let the scan and the grouping of clicks run in parallel workers
            await conn.execute("SET LOCAL parallel_tuple_cost = 0.001")
            text, args = sql.raw(spec)
        records = await conn.fetch(text, *args)
    source: Literal["rollup", "raw"] = "rollup" if pieces is not None else "raw"
    n = len(spec.dims)
    *body, last = records  # ORDER BY total: the GROUPING SETS row over everything comes last
    assert last[-1] and not (body and body[-1][-1])
    totals = dict(zip(_NAMES, last[n:-1], strict=True))
    totals.update(key="total", group={})
    rows: list[dict[str, Any]] = []
    dims = spec.dims
    for rec in body[:limit]:  # everything is shaped by the query: the fastest loop there is
        row = dict(zip(_NAMES, rec[n:-1], strict=True))
        row["group"] = dict(zip(dims, rec[:n], strict=True))
        rows.append(row)
    assert set(COUNTS) <= set(totals)
    return Answer(source, rows, totals, len(body))
