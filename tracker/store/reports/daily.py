"""A report by partner and time whose every local bucket is one rollup piece (docs/adr/0062).

With rows per local day (``rollup_day_phases``) a 30-day report by partner and day in a
registered zone reads one row per partner and day: each is a row of the answer as it
is, plus the CPC/CPM money of the partner's priced offers in that bucket (priced per
offer and rate period, exactly as ``sql.rollup``'s grouped query does, from pieces cut at the rate
changes: a change inside a day keeps the day one row). Only the total row is summed.
Same figures as the grouped query: tests compare both with raw rows.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from schemas.reports import TIME_DIMS
from tracker.store.reports import common, dims, plan, shape
from tracker.store.reports.common import (
    COUNT_FACTS,
    FACTS,
    MONEY_FACTS,
    ROLLUP_FACTS,
    Pieces,
    Spec,
)
from tracker.store.reports.rollups import ALL_OFFERS

_N = len(COUNT_FACTS)
_COUNTS = ROLLUP_FACTS[:_N]  # the rollup's count columns
_STATUS_MONEY = ROLLUP_FACTS[_N + 2 :]  # each status's money (after revenue, payout)


def _price(kind: str) -> str:
    return (f"sum(s.cpc_{kind} * CASE WHEN s.cpc_basis = 'unique' THEN r.unique_clicks"
            f" ELSE r.human_clicks END + s.cpm_{kind} * r.impressions * 0.001)")  # fmt: skip


def _sql(spec: Spec, shown: list[str], buckets: str, pieces: str, periods: str,
         where: str) -> str:  # fmt: skip
    """``shown``: the grouped values over the bucket ``p`` and the rollup row ``r``;
    ``buckets``: p (span, t, b), one rollup piece per local bucket b; ``pieces``: q (span, t, b),
    the same range cut at every rate change, each in its bucket b; ``periods``: the priced
    rate periods pr (o, lo, hi); ``where``: the report's filters over r."""
    n = len(shown)
    counts = ", ".join(f"r.{c}" for c in _COUNTS)
    total_dims = ", ".join(["NULL::int8" if d == "partner" else "NULL::text" for d in spec.dims])
    sums = ", ".join(f"sum({c})::int8" for c in COUNT_FACTS)
    status_money = ", ".join(f"r.{c}" for c in _STATUS_MONEY)
    status_sums = ", ".join(f"coalesce(sum({c}), 0)" for c in MONEY_FACTS[2:])
    cols = ", ".join(f"d{i}" for i in range(n))
    return shape.project(
        spec,
        f"""(
  WITH f ({cols}, {", ".join(FACTS)}) AS MATERIALIZED (
    SELECT {", ".join(shown)}, {counts}, r.revenue + coalesce(m.rev, 0),
           r.payout + coalesce(m.pay, 0), {status_money}
      FROM {buckets}
      JOIN rollup_spans r ON r.offer_id = {ALL_OFFERS} AND r.span = p.span AND r.t = p.t
      LEFT JOIN (
        SELECT r.affiliate_id, q.b, {_price("revenue")}, {_price("payout")}
          FROM {pieces}
          JOIN {periods} ON q.t >= pr.lo AND q.t < pr.hi
          JOIN rollup_spans r ON r.offer_id = pr.o AND r.span = q.span AND r.t = q.t
          JOIN offer_click_rates s ON s.offer_id = pr.o AND s.valid_from = pr.lo
         WHERE {where}
         GROUP BY 1, 2
      ) AS m (a, b, rev, pay) ON m.a = r.affiliate_id AND m.b = p.b
     WHERE {where}
  )
  SELECT *, false FROM f
  UNION ALL
  SELECT {total_dims}, {sums}, coalesce(sum(rev), 0), coalesce(sum(pay), 0), {status_sums},
         true FROM f
)""",
    )


def per_bucket(spec: Spec, pieces: Pieces) -> bool:
    """Whether a report from the rollup reads one piece per local bucket of a grouping by
    partner and time (local days): each partner's row of a piece is a row of the answer."""
    units = [d for d in spec.dims if d in TIME_DIMS]
    if not units or "partner" not in spec.dims or spec.per_offer():
        return False
    zone = ZoneInfo(spec.tz)
    return len({tuple(plan.label(t, u, zone) for u in units) for _, t in pieces}) == len(pieces)


def query(spec: Spec, buckets: Pieces, pieces: Pieces) -> tuple[str, list[Any]]:
    """One rollup piece per local bucket (``per_bucket``): each partner's row of a bucket is a
    row of the answer. The CPC/CPM money of the priced offers is read from ``pieces`` (the
    same range cut at every rate change, so each lies in one rate period of every offer),
    summed per partner and bucket: a rate change inside a day keeps the day one row."""
    zone = ZoneInfo(spec.tz)
    units = [d for d in spec.dims if d in TIME_DIMS]
    ordered = sorted(buckets, key=lambda p: p[1])
    label = {tuple(plan.label(t, u, zone) for u in units): b for b, (_, t) in
             enumerate(ordered, 1)}  # fmt: skip
    of = [label[tuple(plan.label(t, u, zone) for u in units)] for _, t in pieces]
    args = common.Args(spec.start, spec.end, spec.tz)
    rel = "unnest({}::int4[], {}::timestamptz[], {}::int4[]) AS {} (span, t, b)"
    main = rel.format(*(args.add(v) for v in ([p[0] for p in ordered], [p[1] for p in ordered],
                                              list(range(1, len(ordered) + 1)))), "p")  # fmt: skip
    priced = rel.format(*(args.add(v) for v in ([p[0] for p in pieces], [p[1] for p in pieces],
                                                of)), "q")  # fmt: skip
    over = dims.rollup(spec, args)
    shown = []
    for d in spec.dims:
        if d in TIME_DIMS:
            names = args.add([plan.label(t, d, zone) for _, t in ordered])
            shown.append(f"({names}::text[])[p.b]")
        else:
            shown.append(over(d))
    periods = common.periods(spec, args)
    where = f"{common.CHECK}{common.where(spec, args, over)}"
    return _sql(spec, shown, main, priced, periods, where), args.values
