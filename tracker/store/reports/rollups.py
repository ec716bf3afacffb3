"""Writing ``rollup_spans``: the SQL every writer of clicks and conversions uses.

Each fact is added at seven nested spans (15 and 30 minutes, 1, 3, 6 and 12
hours, a UTC day) so that a report reads the coarsest rows that fit inside its local
buckets (docs/adr/0060), and to one day starting at each registered phase (a local
midnight of a configured zone, ``rollup_day_phases``: docs/adr/0062). Writers add only rows their transaction inserted
(invariant 4): clicks from the batch they COPY'd or the rows ``RETURNING``
gave back, a conversion from its ``INSERT … RETURNING``, a status change once.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from tracker.domain.conversion_status import STATUSES
from tracker.domain.counted import click_sql, paid_sql

SPANS = (900, 1800, 3600, 10800, 21600, 43200, 86400)  # each divides the next
_SPANS_SQL = "'{900,1800,3600,10800,21600,43200,86400}'::int4[]"
_KEY = "span, t, affiliate_id, offer_id"
_CLICK_COUNTS = ("gross_clicks", "unique_clicks", "human_clicks", "bot_clicks", "impressions")
_STATUSES = STATUSES  # the order of schemas.reports.STATUSES too
_COUNTED = ("pending", "approved")
# each status's conversion money (migrations 0071, 0073): a held or rejected sale's price is shown
# apart, never as pending payout (held: docs/adr/0080, its own count and money)
_STATUS_MONEY = tuple(f"{s}_{m}" for s in _STATUSES for m in ("revenue", "payout"))
_CONV = (*_STATUSES, "revenue", "payout", *_STATUS_MONEY)
COLUMNS = (*_CLICK_COUNTS, *_CONV)  # every figure of a rollup row
ALL_OFFERS = 0  # offer_id of a partner's rows summed over its offers
_BOTH = "(VALUES (false), (true)) AS w (total)"  # each fact once per offer, once in the total
# The registered local-day phases, read FOR KEY SHARE: days.register (FOR UPDATE) waits for
# writers that read them, and writers that come after it see its phases (docs/adr/0062).
_PHASES = "(SELECT phases FROM rollup_day_phases FOR KEY SHARE) AS d, unnest(d.phases) AS p"
# (span, phase) of every row a fact is added to
_GRID = (f"(SELECT s, 0 FROM unnest({_SPANS_SQL}) AS s UNION ALL SELECT 86400, p FROM {_PHASES})"
         " AS s (span, phase)")  # fmt: skip


def _add(cols: tuple[str, ...]) -> str:
    return ", ".join(f"{c} = r.{c} + EXCLUDED.{c}" for c in cols)


# Clicks and impressions of a batch, aggregated in Python (QuarterCounts.args: the seven
# UTC spans); the local days are summed here from the quarter hours.
CLICKS = f"""
WITH x AS (
    SELECT * FROM unnest($1::int4[], $2::int8[], $3::int8[], $4::int8[], $5::int8[], $6::int8[],
                         $7::int8[], $8::int8[], $9::int8[]) AS x (s, t, a, o, g, u, hu, b, i)
)
INSERT INTO rollup_spans AS r ({_KEY}, {", ".join(_CLICK_COUNTS)})
SELECT s, to_timestamp(t), a, o, g, u, hu, b, i FROM x
 UNION ALL
SELECT 86400, span_start(to_timestamp(x.t), 86400, p), a, o, sum(g)::int8, sum(u)::int8,
       sum(hu)::int8, sum(b)::int8, sum(i)::int8
  FROM x, {_PHASES} WHERE x.s = 900 GROUP BY 1, 2, 3, 4
 ORDER BY 1, 2, 3, 4  -- one lock order for every worker
ON CONFLICT ({_KEY}) DO UPDATE SET {_add(_CLICK_COUNTS)}
"""


def clicks_cte(clicks: str, impressions: str) -> str:
    """A CTE body adding the rows of two ``RETURNING`` relations (created_at, offer_id,
    affiliate_id, click_class, is_unique / created_at, offer_id, affiliate_id, click_class)."""
    return f"""
    INSERT INTO rollup_spans AS r ({_KEY}, {", ".join(_CLICK_COUNTS)})
    SELECT s.span, span_start(q.t, s.span, s.phase), q.affiliate_id,
           CASE WHEN w.total THEN {ALL_OFFERS} ELSE q.offer_id END, sum(q.g)::int8,
           sum(q.u)::int8, sum(q.h)::int8, sum(q.b)::int8, sum(q.i)::int8
      FROM (SELECT span_start(created_at, 900) AS t, affiliate_id, offer_id,
                   count(*) FILTER (WHERE {click_sql()}) AS g,
                   count(*) FILTER (WHERE is_unique) AS u,
                   count(*) FILTER (WHERE {paid_sql()}) AS h,
                   count(*) FILTER (WHERE {click_sql()})
                     - count(*) FILTER (WHERE {paid_sql()}) AS b,  -- tracker.domain.counted
                   0::int8 AS i
              FROM {clicks} GROUP BY 1, 2, 3
            UNION ALL
            SELECT span_start(created_at, 900), affiliate_id, offer_id, 0, 0, 0, 0,
                   count(*) FILTER (WHERE {click_sql()})
              FROM {impressions} GROUP BY 1, 2, 3) q
     CROSS JOIN {_GRID} CROSS JOIN {_BOTH}
     GROUP BY 1, 2, 3, 4
     ORDER BY 1, 2, 3, 4  -- one lock order for every worker
    ON CONFLICT ({_KEY}) DO UPDATE SET {_add(_CLICK_COUNTS)}"""


_COUNTS = ", ".join(f"count(*) FILTER (WHERE c.status = '{s}')" for s in _STATUSES)
_BY_STATUS = ", ".join(
    f"coalesce(sum(c.{m}) FILTER (WHERE c.status = '{s}'), 0)"
    for s in _STATUSES for m in ("revenue", "payout")
)  # fmt: skip


def conversions_cte(rel: str) -> str:
    """A CTE body adding conversions just inserted (``RETURNING *`` of ``conversions``)."""
    return f"""
    INSERT INTO rollup_spans AS r ({_KEY}, {", ".join(_CONV)})
    SELECT s.span, span_start(c.created_at, s.span, s.phase), c.affiliate_id,
           CASE WHEN w.total THEN {ALL_OFFERS} ELSE c.offer_id END, {_COUNTS},
           coalesce(sum(c.revenue) FILTER (WHERE c.status IN ('pending', 'approved')), 0),
           coalesce(sum(c.payout) FILTER (WHERE c.status IN ('pending', 'approved')), 0),
           {_BY_STATUS}
      FROM {rel} c CROSS JOIN {_GRID} CROSS JOIN {_BOTH}
     WHERE c.offer_id IS NOT NULL AND c.affiliate_id IS NOT NULL
     GROUP BY 1, 2, 3, 4
     ORDER BY 1, 2, 3, 4
    ON CONFLICT ({_KEY}) DO UPDATE SET {_add(_CONV)}"""


# A status change: $4… move the counts by status, then the counted money, then each status's.
STATUS = f"""
INSERT INTO rollup_spans AS r ({_KEY}, {", ".join(_CONV)})
SELECT s.span, span_start($1::timestamptz, s.span, s.phase), $2, o,
       {", ".join(f"${k}" for k in range(4, 4 + len(_CONV)))}
  FROM {_GRID} CROSS JOIN (VALUES ($3::int8), ({ALL_OFFERS})) AS x (o)
ON CONFLICT ({_KEY}) DO UPDATE SET {_add(_CONV)}
"""


def status_args(created_at: datetime, affiliate_id: int, offer_id: int, before: str, after: str,
                revenue: object, payout: object, counted: frozenset[str]) -> list[object]:  # fmt: skip
    return move_args(created_at, affiliate_id, offer_id, before, after, (revenue, payout),
                     (revenue, payout), counted)  # fmt: skip


def move_args(created_at: datetime, affiliate_id: int, offer_id: int, before: str, after: str,
              money_before: tuple[Any, Any], money_after: tuple[Any, Any],
              counted: frozenset[str]) -> list[object]:  # fmt: skip
    """The parameters of ``STATUS`` for a conversion that moves from (status, revenue,
    payout) before to after: the money of a counted status leaves, the new one comes in
    (a re-priced or amended conversion moves the rollup by the difference); the same for
    each status's own money, counted or not (an amended held or rejected sale too)."""
    moves = [int(s == after) - int(s == before) for s in _STATUSES]
    zero = Decimal(0)

    def delta(i: int, before_in: bool, after_in: bool) -> Any:
        return (money_after[i] if after_in else zero) - (money_before[i] if before_in else zero)

    by_status = [delta(i, before == s, after == s) for s in _STATUSES for i in (0, 1)]
    return [created_at, affiliate_id, offer_id, *moves,
            delta(0, before in counted, after in counted),
            delta(1, before in counted, after in counted), *by_status]  # fmt: skip


class QuarterCounts:
    """A click batch's counts per (quarter start, partner, offer), in the writer's loop."""

    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts: defaultdict[tuple[int, int, int], list[int]] = defaultdict(
            lambda: [0, 0, 0, 0, 0]
        )

    def at(self, ts: float, affiliate_id: int, offer_id: int) -> list[int]:
        """The counters [gross, unique, human, bot, impressions] to add this event to."""
        return self.counts[(int(ts // 900) * 900, affiliate_id, offer_id)]

    def args(self) -> list[list[int]]:
        """The parameters of ``CLICKS``: every quarter added at every span, sorted."""
        spans: defaultdict[tuple[int, int, int, int], list[int]] = defaultdict(
            lambda: [0, 0, 0, 0, 0]
        )
        for (q, a, o), n in self.counts.items():
            for s in SPANS:
                for offer in (o, ALL_OFFERS):
                    acc = spans[(s, q // s * s, a, offer)]
                    for i in range(5):
                        acc[i] += n[i]
        keys = sorted(spans)
        cols: list[list[int]] = [[k[i] for k in keys] for i in range(4)]
        cols += [[spans[k][i] for k in keys] for i in range(5)]
        return cols
