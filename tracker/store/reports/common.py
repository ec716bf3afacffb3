"""What a report asks for, and the SQL pieces every source of it shares: the ``$n``
parameters, the filters and the tenant's scope, and the priced rate periods."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from schemas.reports import INT_DIMS, STATUSES, TIME_DIMS

# The figures of a fact (a group's sums before the answer is shaped), in this order: gross,
# unique, human and bot clicks, impressions, conversions by status; the money of counted
# statuses with CPC and CPM (rev, pay), then each status's conversion money.
COUNTED = ("pending", "approved")
COUNT_FACTS = ("g", "u", "h", "b", "i", *(f"n_{s}" for s in STATUSES))
MONEY_FACTS = ("rev", "pay", *(f"{m}_{s}" for s in STATUSES for m in ("rev", "pay")))
FACTS = (*COUNT_FACTS, *MONEY_FACTS)
# rollup_spans' column of each fact (migrations 0008, 0071, 0073)
ROLLUP_FACTS = (
    "gross_clicks", "unique_clicks", "human_clicks", "bot_clicks", "impressions", *STATUSES,
    "revenue", "payout", *(f"{s}_{m}" for s in STATUSES for m in ("revenue", "payout")),
)  # fmt: skip
Pieces = list[tuple[int, datetime]]  # (span seconds, start) as plan.cover gives them
# The rollup's columns of the dimensions it holds, over a rollup row r; the advertiser is
# its offer's (dims.rollup), so a report by advertiser reads the per-offer rows.
ROLLUP = {"partner": "r.affiliate_id", "offer": "r.offer_id"}
ROLLUP_DIMS = frozenset((*ROLLUP, "advertiser", "currency", *TIME_DIMS))
Expr = Callable[[str], str]  # a dimension's name → its SQL over the row at hand
# dimensions that need the rollup's per-offer rows (not the partners' totals, offer_id 0)
PER_OFFER = frozenset(("offer", "advertiser", "currency"))
# A grouping by sub-id holds tens of thousands of groups: keep them in memory. Plans are made
# for each report's own values: asyncpg prepares each statement, and after five runs of
# the same text PostgreSQL may switch to a generic plan, which cannot prune partitions by
# the range when planning and estimated the 7-day sub1 report 1.7x slower (477-497 ms
# against 260-305 ms, the same statement run nine times in a row).
SETTINGS = "SET LOCAL work_mem = '64MB'; SET LOCAL plan_cache_mode = force_custom_plan"
# $1 … $3 of every report query: start, end, zone (checked so that each is typed)
CHECK = "$1::timestamptz < $2::timestamptz AND $3::text IS NOT NULL"


@dataclass
class Periods:
    """Priced periods: offer, start (None: from the start), end (None: open)."""

    offers: list[int] = field(default_factory=list)
    starts: list[datetime | None] = field(default_factory=list)
    ends: list[datetime | None] = field(default_factory=list)
    # each period's CPC (numeric(18, 4)): its basis and (payout, revenue)
    cpc: list[tuple[str, Decimal, Decimal]] = field(default_factory=list)
    # its CPM (numeric(18, 4), per 1,000 impressions): (payout, revenue)
    cpm: list[tuple[Decimal, Decimal]] = field(default_factory=list)

    def cuts(self) -> list[int]:
        """The instants (epoch seconds) where some offer's price changes."""
        return sorted({int(t.timestamp()) for t in (*self.starts, *self.ends) if t is not None})

    def cpc_units(self, most: int) -> list[list[int]] | None:
        """For a range inside one period of every priced offer: CPC rates in 1/10000 indexed by
        offer id (payout and revenue on unique clicks, then on gross human clicks), then the CPM
        rates (payout, revenue), so a raw report prices each click and impression as it counts
        it; None beyond ``most`` offer ids."""
        size = max(self.offers, default=0)
        if size > most:
            return None
        out = [[0] * size for _ in range(6)]
        for o, (basis, pay, rev), cpm in zip(self.offers, self.cpc, self.cpm, strict=True):
            at = 0 if basis == "unique" else 2
            for j, rate in [(at, pay), (at + 1, rev), (4, cpm[0]), (5, cpm[1])]:
                units = rate * 10000
                assert units == int(units), "CPC/CPM rates have 4 decimals (migration 0011)"
                out[j][o - 1] = int(units)
        return out


@dataclass
class Spec:
    dims: list[str]
    start: datetime
    end: datetime
    tz: str
    filters: dict[str, list[str]] = field(default_factory=dict)
    affiliate_id: int | None = None  # a partner's key
    advertiser_id: int | None = None  # an advertiser's key
    periods: Periods | None = None  # priced rate periods (rates.load), required to build SQL
    sort: str | None = None  # a metric or a grouped dimension, "-" in front: descending
    hidden: tuple[str, ...] = ()  # metrics the caller may not see: null in every row
    # one part of a report run in parts (reports/parts.py): partner ids in [lo, hi) (None:
    # unbounded), and the total row's sums as numbers (shape.project) for the parts to add
    partners: tuple[int | None, int | None] = (None, None)
    raw_total: bool = False
    # each offer's advertiser, indexed by offer id (engine.run loads it when a report groups
    # or filters by advertiser)
    advertisers: list[int | None] | None = None
    # each offer's currency, indexed by offer id (engine.run)
    currencies: list[str | None] | None = None
    # offers whose currency changed inside the range (dated terms, docs/adr/0081): a row's
    # amounts are in the currency of the terms at its time, read from raw rows only
    dated: tuple[int, ...] = ()
    # the report holds amounts in several currencies: rows split by currency, and the total
    # row's amounts null
    several: bool = False

    def per_offer(self) -> bool:
        """Whether a report from the rollup must read its per-offer rows."""
        return bool(PER_OFFER & {*self.dims, *self.filters}) or self.advertiser_id is not None


class Args:
    def __init__(self, *first: Any) -> None:
        self.values: list[Any] = list(first)
        self._named: dict[str, str] = {}

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"

    def once(self, name: str, value: Any) -> str:
        """A parameter passed once however often the query names it."""
        if name not in self._named:
            self._named[name] = self.add(value)
        return self._named[name]


def where(spec: Spec, args: Args, expr: Expr) -> str:
    """The report's filters and the caller's scope over ``expr`` (a dimension → its SQL)."""
    out: list[str] = []
    for dim, values in spec.filters.items():
        if dim in INT_DIMS:
            out.append(f"{expr(dim)} = ANY({args.add([int(v) for v in values])}::int8[])")
        else:
            out.append(f"{expr(dim)} = ANY({args.add(values)}::text[])")
    if spec.affiliate_id is not None:
        out.append(f"{expr('partner')} = {args.add(spec.affiliate_id)}")
    lo, hi = spec.partners
    if lo is not None:
        out.append(f"{expr('partner')} >= {args.add(lo)}::int8")
    if hi is not None:
        out.append(f"{expr('partner')} < {args.add(hi)}::int8")
    if spec.advertiser_id is not None:
        out.append(f"{expr('offer')} IN (SELECT id FROM offers WHERE advertiser_id = "
                   f"{args.add(spec.advertiser_id)})")  # fmt: skip
    return "".join(f" AND {w}" for w in out)


def periods(spec: Spec, args: Args) -> str:
    """The priced rate periods as a relation pr (o, lo, hi): [lo, hi) in time."""
    assert spec.periods is not None, "load the rate periods first (rates.load)"
    ps = spec.periods
    o, lo, hi = (args.add(v) for v in (ps.offers, ps.starts, ps.ends))
    return (f"(SELECT o, coalesce(lo, '-infinity'), coalesce(hi, 'infinity') FROM unnest("
            f"{o}::int8[], {lo}::timestamptz[], {hi}::timestamptz[]) AS x (o, lo, hi))"
            " AS pr (o, lo, hi)")  # fmt: skip
