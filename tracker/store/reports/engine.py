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
from tracker.store.reports import plan, rates, sql

_HIDE: dict[str, tuple[str, ...]] = {
    "admin": (),
    "affiliate": ("revenue", "profit", "rpc"),
    "advertiser": ("payout", "profit", "epc"),
}
_OUT = ("gross_clicks", "unique_clicks", "human_clicks", "bot_clicks", "impressions", "pending",
        "approved", "rejected", "reversed", "revenue", "payout", "profit", "cr", "epc",
        "rpc")  # fmt: skip


@dataclass
class Answer:
    source: Literal["rollup", "raw"]
    rows: list[dict[str, Any]]
    totals: dict[str, Any]
    total_rows: int


def hidden(role: str) -> tuple[str, ...]:
    """The metrics this role may not see."""
    return _HIDE[role]


def _key(values: tuple[Any, ...]) -> str | int | None:
    if len(values) == 1:
        v = values[0]
        return v if v is None or isinstance(v, int) else str(v)
    return "|".join("" if v is None else str(v) for v in values)


def _sorter(sort: str | None, dims: list[str]) -> tuple[list[str], bool]:
    if sort is None:
        return dims, False
    return [sort.lstrip("-")], sort.startswith("-")


async def run(pool: asyncpg.Pool, spec: sql.Spec, role: str, *, sort: str | None,
              limit: int) -> Answer:  # fmt: skip
    units = [d for d in spec.dims if d in TIME_DIMS]
    # one snapshot: the rate periods read here are those the query joins to
    async with pool.acquire() as conn, conn.transaction(readonly=True,
                                                        isolation="repeatable_read"):  # fmt: skip
        # a grouping by sub-id holds tens of thousands of groups: keep them in memory
        await conn.execute("SET LOCAL work_mem = '64MB'")
        spec.periods = await rates.load(conn, spec)
        pieces = None
        if set(spec.dims) <= sql.ROLLUP_DIMS and set(spec.filters) <= sql.ROLLUP_DIMS:
            cuts = spec.periods.cuts()
            pieces = plan.cover(spec.start, spec.end, units, ZoneInfo(spec.tz), cuts)
        if pieces is not None:
            text, args = sql.rollup(spec, pieces)
        else:
            # raw rows: let the scan and the grouping of clicks run in parallel workers
            await conn.execute("SET LOCAL parallel_tuple_cost = 0.001")
            text, args = sql.raw(spec)
        records = await conn.fetch(text, *args)
    source: Literal["rollup", "raw"] = "rollup" if pieces is not None else "raw"
    n = len(spec.dims)
    hide = _HIDE[role]
    rows: list[dict[str, Any]] = []
    totals: dict[str, Any] = {}
    for rec in records:
        values = tuple(rec)
        row = dict(zip(_OUT, values[n:-1], strict=True))
        row["conversions"] = row["pending"] + row["approved"]
        for name in hide:
            row[name] = None
        if values[-1]:  # the GROUPING SETS row over everything
            row.update(key="total", group={})
            totals = row
            continue
        row["key"] = _key(values[:n])
        row["group"] = dict(zip(spec.dims, values[:n], strict=True))
        rows.append(row)
    names, desc = _sorter(sort, spec.dims)

    def order(r: dict[str, Any]) -> tuple[Any, ...]:
        vals = [r["group"][m] if m in r["group"] else r[m] for m in names]
        # None sorts after every value, whichever the direction
        return tuple(x for v in vals for x in ((v is None) != desc, 0 if v is None else v))

    rows.sort(key=order, reverse=desc)
    assert set(COUNTS) <= set(totals)
    return Answer(source, rows[:limit], totals, len(rows))
