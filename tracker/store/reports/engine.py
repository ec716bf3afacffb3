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
    dims: list[str]  # as grouped: the asked ones, and currency when amounts need it
    currency: str | None  # the one currency of every amount; None: several


_OFFERS = "SELECT id, advertiser_id, rtrim(currency) FROM offers"


# Offers whose default terms (docs/adr/0081) hold several currencies inside [$1, $2): a
# term is in force from its valid_from until the next one's.
_DATED = """
SELECT offer_id, array_agg(DISTINCT rtrim(currency)) FROM (
    SELECT offer_id, currency, valid_from,
           lead(valid_from) OVER (PARTITION BY offer_id ORDER BY valid_from, id) AS until
      FROM offer_price_terms WHERE goal IS NULL AND offer_id = ANY($3::int8[])) AS t
 WHERE valid_from < $2 AND (until IS NULL OR (until > $1 AND until > valid_from))
 GROUP BY offer_id HAVING count(DISTINCT currency) > 1"""


async def _offers(conn: asyncpg.Connection, spec: sql.Spec) -> dict[int, set[str]]:
    """Each offer's advertiser and currency into ``spec``, indexed by offer id (1-based, as
    SQL arrays are); returns the offers the report may read, with the currencies of their
    amounts in the range (several when the offer's currency changed inside it)."""
    rows = await conn.fetch(_OFFERS)
    size = max((r[0] for r in rows), default=0)
    spec.advertisers, spec.currencies = [None] * size, [None] * size
    wanted = {int(o) for o in spec.filters.get("offer", ())}
    by = {int(a) for a in spec.filters.get("advertiser", ())}
    scope: dict[int, set[str]] = {}
    for offer, advertiser, currency in rows:
        spec.advertisers[offer - 1], spec.currencies[offer - 1] = advertiser, currency
        if (
            (not wanted or offer in wanted) and (not by or advertiser in by)
            and (spec.advertiser_id is None or advertiser == spec.advertiser_id)
        ):  # fmt: skip
            scope[offer] = {currency}
    dated = await conn.fetch(_DATED, spec.start, spec.end, list(scope))
    spec.dated = tuple(sorted(o for o, _ in dated))
    scope.update((o, set(cs)) for o, cs in dated)
    kept = set(spec.filters.get("currency", ()))
    return {o: cs & kept if kept else cs for o, cs in scope.items() if not kept or cs & kept}


# The offers with any fact in the UTC days around the range (a superset: a day row holds
# every fact of its day), from the rollup's day rows.
_IN_RANGE = """
SELECT DISTINCT offer_id FROM rollup_spans
 WHERE span = 86400 AND t > $1::timestamptz - interval '1 day' AND t < $2
   AND offer_id = ANY($3::int8[]) AND ($4::int8[] IS NULL OR affiliate_id = ANY($4::int8[]))"""


async def _in_range(
    conn: asyncpg.Connection, spec: sql.Spec, offers: dict[int, set[str]]
) -> set[int]:
    """Those of ``offers`` that hold facts for the report's partners in its range."""
    partners = [int(p) for p in spec.filters.get("partner", ())] or None
    if spec.affiliate_id is not None:
        partners = [spec.affiliate_id]
    found = await conn.fetch(_IN_RANGE, spec.start, spec.end, list(offers), partners)
    return {o for (o,) in found}


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
        offers = await _offers(conn, spec)
        currencies = {c for cs in offers.values() for c in cs}
        if len(currencies) > 1:  # only those of offers with traffic or sales in the range
            found = await _in_range(conn, spec, offers)
            currencies = {c for o in found for c in offers[o]}
            spec.dated = tuple(o for o in spec.dated if o in found)
        # amounts in several currencies are never added: rows split by currency (docs/adr/0105)
        spec.several = len(currencies) > 1
        if spec.several and "currency" not in spec.dims:
            spec.dims = [*spec.dims, "currency"]
        pieces = buckets = None
        # an offer whose currency changed inside the range: raw rows (a rollup row may hold
        # amounts of both currencies)
        if (not spec.dated and set(spec.dims) <= sql.ROLLUP_DIMS
                and set(spec.filters) <= sql.ROLLUP_DIMS):  # fmt: skip
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
    currency = None if spec.several else next(iter(currencies), None)
    return Answer(source, rows, orjson.Fragment(last[0]), len(body), spec.dims, currency)
