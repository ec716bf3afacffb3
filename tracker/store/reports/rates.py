"""The dated CPC/CPM rates a report prices clicks and impressions with (docs/adr/0036).

``offer_click_rates`` (migration 0011) holds each offer's rates from a UTC quarter
hour (or -infinity) until its next row. A report reads, in its own snapshot, the
*priced* periods (some rate not zero) that overlap its range: their bounds are extra
edges for ``plan.cover``, and the SQL prices each fact with the period that holds it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import asyncpg

if TYPE_CHECKING:
    from tracker.store.reports.common import Spec

# lo NULL: from -infinity; hi NULL: until further notice
_LOAD = """
SELECT offer_id, lo, hi, cpc_basis, cpc_payout, cpc_revenue FROM (
    SELECT offer_id, CASE WHEN isfinite(valid_from) THEN valid_from END AS lo,
           cpc_basis, cpc_payout, cpc_revenue,
           lead(valid_from) OVER (PARTITION BY offer_id ORDER BY valid_from) AS hi,
           cpc_payout <> 0 OR cpc_revenue <> 0 OR cpm_payout <> 0 OR cpm_revenue <> 0 AS priced
      FROM offer_click_rates
     WHERE ($3::int8[] IS NULL OR offer_id = ANY($3::int8[]))
       AND ($4::int8 IS NULL OR offer_id IN (SELECT id FROM offers WHERE advertiser_id = $4))
) p
 WHERE priced AND (lo IS NULL OR lo < $2) AND (hi IS NULL OR hi > $1)
 ORDER BY offer_id, lo NULLS FIRST"""


@dataclass
class Periods:
    """Priced periods: offer, start (None: from the start), end (None: open)."""

    offers: list[int] = field(default_factory=list)
    starts: list[datetime | None] = field(default_factory=list)
    ends: list[datetime | None] = field(default_factory=list)
    # each period's CPC (numeric(18, 4)): its basis and (payout, revenue)
    cpc: list[tuple[str, Decimal, Decimal]] = field(default_factory=list)

    def cuts(self) -> list[int]:
        """The instants (epoch seconds) where some offer's price changes."""
        return sorted({int(t.timestamp()) for t in (*self.starts, *self.ends) if t is not None})

    def cpc_units(self, most: int) -> list[list[int]] | None:
        """For a range inside one period of every priced offer: CPC rates in 1/10000 indexed by
        offer id (payout and revenue on unique clicks, then on gross human clicks), so a raw
        report prices each click as it counts it; None beyond ``most`` offer ids."""
        size = max(self.offers, default=0)
        if size > most:
            return None
        out = [[0] * size for _ in range(4)]
        for o, (basis, pay, rev) in zip(self.offers, self.cpc, strict=True):
            at = 0 if basis == "unique" else 2
            for j, rate in enumerate((pay, rev)):
                units = rate * 10000
                assert units == int(units), "CPC rates have 4 decimals (migration 0011)"
                out[at + j][o - 1] = int(units)
        return out


async def load(conn: asyncpg.Connection, spec: Spec) -> Periods:
    offers = [int(o) for o in spec.filters["offer"]] if "offer" in spec.filters else None
    out = Periods()
    for r in await conn.fetch(_LOAD, spec.start, spec.end, offers, spec.advertiser_id):
        out.offers.append(r["offer_id"])
        out.starts.append(r["lo"])
        out.ends.append(r["hi"])
        out.cpc.append((r["cpc_basis"], r["cpc_payout"], r["cpc_revenue"]))
    return out
