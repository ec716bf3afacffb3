"""The SQL of a report, from the rollup or from raw rows.

Both sources produce the same relation of *facts* per (grouped values, offer):
counts, and the money of conversions in a counted status, and for the counts to
price, the start of the offer's rate period that holds them. The outer query prices
clicks (CPC, on unique or gross human clicks) and impressions (CPM, per thousand)
with that period's rates and sums per group, so a report gives the same exact
figures whichever source it reads (docs/adr/0060, 0036).
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from schemas.reports import STATUSES, TIME_DIMS
from tracker.domain.counted import click_sql, paid_sql
from tracker.store.reports import common, daily, dims, plan, shape
from tracker.store.reports.common import (
    COUNT_FACTS,
    COUNTED,
    FACTS,
    MONEY_FACTS,
    ROLLUP_DIMS,
    ROLLUP_FACTS,
    Pieces,
    Spec,
)
from tracker.store.reports.rollups import ALL_OFFERS

__all__ = ["ROLLUP_DIMS", "Pieces", "Spec", "raw", "rollup"]

_FORMAT = {"hour": 'YYYY-MM-DD"T"HH24:00', "day": "YYYY-MM-DD", "week": "YYYY-MM-DD",
           "month": "YYYY-MM"}  # fmt: skip
_COLS = ", ".join(f"r.{c}" for c in ROLLUP_FACTS)
_DENSE = 100_000  # offer ids up to this: CPC rates of a raw report by offer id
# Bot clicks (bot, preview, prefetch, blocked) are gross less human: the classes are closed
# (migration 0040), and PostgreSQL computes each of the two counts once (ADR 0073).
_CLICK, _PAID = click_sql("c.click_class"), paid_sql("c.click_class")  # tracker.domain.counted
_BOTS = f"count(*) FILTER (WHERE {_CLICK}) - count(*) FILTER (WHERE {_PAID})"


def _facts(**given: str) -> str:
    """A row of FACTS: the given ones, zero for the rest."""
    return ", ".join(given.get(f, "0::int8" if f in COUNT_FACTS else "0::numeric")
                     for f in FACTS)  # fmt: skip


def _time(col: str, unit: str) -> str:
    return f"to_char(date_trunc('{unit}', {col} AT TIME ZONE $3::text), '{_FORMAT[unit]}')"


def _outer(spec: Spec, facts: str, names: dict[int, str] | None = None, *,
           priced: bool = False, lo: str = "f.lo", join: bool = True) -> str:  # fmt: skip
    """``names``: for a grouped position holding a bucket number, the parameter with the
    bucket names (grouping by numbers, naming only the answer's rows, is much cheaper).
    ``priced``: the facts carry the counts to price (unique, human, impressions) in
    columns of their own; otherwise the counted ones are priced. Facts are priced with
    the rates of (offer ``o``, period starting ``lo``); no such period, no CPC/CPM."""
    cols = [f"d{i}" for i in range(len(spec.dims))]
    group = ", ".join(f"f.{c}" for c in cols)
    shown = ", ".join(
        f"({(names or {})[i]}::text[])[f.{c}]" if i in (names or {}) else f"f.{c}"
        for i, c in enumerate(cols)
    )
    base = f"{', '.join(cols)}, o, lo, {', '.join(FACTS)}"
    if priced:
        source = f"({facts}) AS f ({base}, pu, ph, pi)"
    else:
        source = f"(SELECT *, u, h, i FROM ({facts}) AS x ({base})) AS f ({base}, pu, ph, pi)"

    def money(kind: str, conv: str) -> str:
        if not join:
            return f"sum(f.{conv})"
        return (f"sum(CASE WHEN s.offer_id IS NULL THEN f.{conv} ELSE f.{conv} + s.cpc_{kind} * "
                f"CASE WHEN s.cpc_basis = 'unique' THEN f.pu ELSE f.ph END + s.cpm_{kind} * "
                f"f.pi * 0.001 END)")  # fmt: skip

    rates = (f"LEFT JOIN offer_click_rates s ON s.offer_id = f.o AND s.valid_from = {lo}"
             if join else "")  # fmt: skip
    counts = ", ".join(f"sum(f.{c})::int8" for c in COUNT_FACTS)
    status_money = ", ".join(f"coalesce(sum(f.{c}), 0)" for c in MONEY_FACTS[2:])

    # Totals by GROUPING SETS; ratios, money's shape and the order: shape.project.
    return shape.project(
        spec,
        f"""(
SELECT {shown}, {counts},
       coalesce({money("revenue", "rev")}, 0), coalesce({money("payout", "pay")}, 0),
       {status_money}, GROUPING({group}) <> 0
  FROM {source}
  {rates}
 GROUP BY GROUPING SETS (({group}), ())
)""",
    )


def rollup(spec: Spec, pieces: Pieces, buckets: Pieces | None = None) -> tuple[str, list[Any]]:
    """``pieces``: plan.cover's rows; each one's local buckets are named here, once per
    piece rather than once per rollup row (a zone conversion per row costs more than the sum).
    ``buckets``: the same range covered without the rate changes' cuts; when it is one piece
    per local bucket of a report by partner and time, the answer's rows are its rows."""
    if buckets is not None and daily.per_bucket(spec, buckets):
        return daily.query(spec, buckets, pieces)
    zone = ZoneInfo(spec.tz)
    units = [d for d in spec.dims if d in TIME_DIMS]
    args = common.Args(
        spec.start, spec.end, spec.tz, [p[0] for p in pieces], [p[1] for p in pieces]
    )
    ids, names = [], {}
    for u in units:
        labels = [plan.label(t, u, zone) for _, t in pieces]
        distinct = sorted(set(labels))
        index = {name: i + 1 for i, name in enumerate(distinct)}
        ids.append(args.add([index[name] for name in labels]))
        names[spec.dims.index(u)] = args.add(distinct)
    cols_p = ", ".join(f"l{j}" for j in range(len(units)))
    arrays = "".join(f", {a}::int4[]" for a in ids)
    names_sql = f", {cols_p}" if units else ""
    over = dims.rollup(spec, args)
    cols = [f"p.l{units.index(d)}" if d in TIME_DIMS else over(d) for d in spec.dims]
    pieces_sql = f"unnest($4::int4[], $5::timestamptz[]{arrays}) AS p (span, t{names_sql})"
    sums = ", ".join(f"sum(r.{c})" for c in ROLLUP_FACTS)
    by = ", ".join(str(i) for i in range(1, len(cols) + 3))
    check = common.CHECK
    periods = common.periods(spec, args)
    where = common.where(spec, args, over)
    # a piece never holds a rate change (plan.cover's cuts): its start names its period
    if spec.per_offer():
        facts = f"""
    SELECT {", ".join(cols)}, r.offer_id, pr.lo, {sums}
      FROM {pieces_sql}
      JOIN rollup_spans r ON r.span = p.span AND r.t = p.t AND r.offer_id <> {ALL_OFFERS}
      LEFT JOIN {periods} ON pr.o = r.offer_id AND p.t >= pr.lo AND p.t < pr.hi
     WHERE {check}{where}
     GROUP BY {by}"""
        return _outer(spec, facts, names), args.values

    # By partner and time only: the partners' totals over their offers (offer_id 0), and the
    # CPC/CPM money of the offers' priced periods, priced here per offer and period.
    # (the partners' rows go to the outer grouping as they are: grouping them here first
    # sums every column twice)
    facts = f"""
    SELECT {", ".join(cols)}, NULL::int8, NULL::timestamptz, {_COLS}, 0, 0, 0
      FROM {pieces_sql}
      JOIN rollup_spans r ON r.offer_id = {ALL_OFFERS} AND r.span = p.span AND r.t = p.t
     WHERE {check}{where}
    UNION ALL
    SELECT {", ".join(cols)}, pr.o, pr.lo, {_facts()}, sum(r.unique_clicks),
           sum(r.human_clicks), sum(r.impressions)
      FROM {pieces_sql}
      JOIN {periods} ON p.t >= pr.lo AND p.t < pr.hi
      JOIN rollup_spans r ON r.offer_id = pr.o AND r.span = p.span AND r.t = p.t
     WHERE {check}{where}
     GROUP BY {by}"""
    return _outer(spec, facts, names, priced=True), args.values


def raw(spec: Spec) -> tuple[str, list[Any]]:
    args = common.Args(spec.start, spec.end, spec.tz)
    by = ", ".join(str(i) for i in range(1, len(spec.dims) + 3))
    parts = []
    # array parameters, not a subquery: that keeps the scan of clicks parallel
    assert spec.periods is not None
    a, b = spec.start.timestamp(), spec.end.timestamp()
    single = not any(a < c < b for c in spec.periods.cuts())
    periods, o_arr, lo = "", "", "f.lo"
    units = spec.periods.cpc_units(_DENSE) if single else None
    clicks_money: list[str] = []
    imps_money: list[str] = []
    if single and units is None:  # one period per priced offer: no per-row range join needed
        o_arr, lo_arr = args.add(spec.periods.offers), args.add(spec.periods.starts)
        lo = (f"coalesce(({lo_arr}::timestamptz[])[array_position({o_arr}::int8[], f.o)],"
              " '-infinity')")  # fmt: skip
    elif not single:
        periods = common.periods(spec, args)
    if units is not None:
        # each click priced as it is counted (rates by offer id): grouping clicks by offer
        # too made ten times the groups (a 7-day sub1 report: 44k instead of 5k)
        def price(rates: list[int], counted: str, alias: str = "c", unit: str = "0.0001") -> str:
            if not any(rates):  # nothing for an unused basis
                return ""
            # sum(int4) keeps an int8 state by value, sum(int8) a 128-bit one: 20 ms less
            kind = "int4" if max(map(abs, rates)) < 2**31 else "int8"
            return (f" + coalesce(sum(({args.add(rates)}::{kind}[])[{alias}.offer_id]) "
                    f"FILTER (WHERE {counted}), 0) * {unit}")  # fmt: skip

        up, ur, hp, hr, mp, mr = units
        clicks_money = [
            "0::numeric" + price(u, "c.is_unique") + price(h, _PAID)
            for u, h in ((ur, hr), (up, hp))
        ]
        # CPM: per 1,000 impressions, rates in 1/10000 → 1e-7 a unit
        imps_money = [
            "0::numeric" + price(m, click_sql("i.click_class"), "i", "0.0000001") for m in (mr, mp)
        ]
    for alias in dims.ALIASES:
        expr = dims.of(spec, args, alias)
        cols = [_time(f"{alias}.created_at", d) if d in TIME_DIMS else expr(d) for d in spec.dims]
        where = f"{alias}.created_at >= $1 AND {alias}.created_at < $2 AND $3::text IS NOT NULL"
        where += common.where(spec, args, expr)
        if alias == "c":
            money = dict(zip(("rev", "pay"), clicks_money, strict=True)) if units else {}
            metrics = _facts(g=f"count(*) FILTER (WHERE {_CLICK})",
                             u="count(*) FILTER (WHERE c.is_unique)",
                             h=f"count(*) FILTER (WHERE {_PAID})", b=_BOTS, **money)  # fmt: skip
            source = "clicks c"
        elif alias == "i":
            money = dict(zip(("rev", "pay"), imps_money, strict=True)) if units else {}
            metrics = _facts(i=f"count(*) FILTER (WHERE {click_sql('i.click_class')})", **money)
            source = "impressions i"
        else:
            counted = "v.status IN (" + ", ".join(f"'{c}'" for c in COUNTED) + ")"
            metrics = _facts(
                **{f"n_{st}": f"count(*) FILTER (WHERE v.status = '{st}')" for st in STATUSES},
                rev=f"coalesce(sum(v.revenue) FILTER (WHERE {counted}), 0)",
                pay=f"coalesce(sum(v.payout) FILTER (WHERE {counted}), 0)",
                **{f"{m}_{st}": f"coalesce(sum(v.{col}) FILTER (WHERE v.status = '{st}'), 0)"
                   for st in STATUSES for m, col in (("rev", "revenue"), ("pay", "payout"))},
            )  # fmt: skip
            where += " AND v.offer_id IS NOT NULL AND v.affiliate_id IS NOT NULL"
            source = "conversions v"
        # the offer and period only where CPC/CPM rates price the row: far fewer groups
        offer = "NULL::int8, NULL::timestamptz"
        priced_here = alias != "v" and units is not None  # priced as counted, above
        if alias != "v" and single and not priced_here:
            offer = (f"CASE WHEN {alias}.offer_id = ANY({o_arr}::int8[]) THEN {alias}.offer_id"
                     " END, NULL::timestamptz")  # fmt: skip
        elif alias != "v" and not priced_here:
            offer = "pr.o, pr.lo"
            source += (f" LEFT JOIN {periods} ON pr.o = {alias}.offer_id"
                       f" AND {alias}.created_at >= pr.lo AND {alias}.created_at < pr.hi")  # fmt: skip
        parts.append(f"SELECT {', '.join(cols)}, {offer}, {metrics}"
                     f" FROM {source} WHERE {where} GROUP BY {by}")  # fmt: skip
    facts = "\n    UNION ALL\n    ".join(parts)
    return _outer(spec, facts, lo=lo, join=units is None), args.values
