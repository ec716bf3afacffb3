"""The dated CPC/CPM rates a report prices clicks and impressions with (docs/adr/0036).

``offer_click_rates`` (migration 0011) holds each offer's rates from a UTC quarter
hour (or -infinity) until its next row. A report reads, in its own snapshot, the
*priced* periods (some rate not zero) that overlap its range: their bounds are extra
edges for ``plan.cover``, and the SQL prices each fact with the period that holds it.
"""

from __future__ import annotations

import asyncpg

from tracker.store.reports.common import Periods, Spec

# lo NULL: from -infinity; hi NULL: until further notice
_LOAD = """
SELECT offer_id, lo, hi, cpc_basis, cpc_payout, cpc_revenue, cpm_payout, cpm_revenue FROM (
    SELECT offer_id, CASE WHEN isfinite(valid_from) THEN valid_from END AS lo,
           cpc_basis, cpc_payout, cpc_revenue, cpm_payout, cpm_revenue,
           lead(valid_from) OVER (PARTITION BY offer_id ORDER BY valid_from) AS hi,
           cpc_payout <> 0 OR cpc_revenue <> 0 OR cpm_payout <> 0 OR cpm_revenue <> 0 AS priced
      FROM offer_click_rates
     WHERE ($3::int8[] IS NULL OR offer_id = ANY($3::int8[]))
       AND ($4::int8 IS NULL OR offer_id IN (SELECT id FROM offers WHERE advertiser_id = $4))
) p
 WHERE priced AND (lo IS NULL OR lo < $2) AND (hi IS NULL OR hi > $1)
 ORDER BY offer_id, lo NULLS FIRST"""


async def load(conn: asyncpg.Connection, spec: Spec) -> Periods:
    offers = [int(o) for o in spec.filters["offer"]] if "offer" in spec.filters else None
    out = Periods()
    for r in await conn.fetch(_LOAD, spec.start, spec.end, offers, spec.advertiser_id):
        out.offers.append(r["offer_id"])
        out.starts.append(r["lo"])
        out.ends.append(r["hi"])
        out.cpc.append((r["cpc_basis"], r["cpc_payout"], r["cpc_revenue"]))
        out.cpm.append((r["cpm_payout"], r["cpm_revenue"]))
    return out
