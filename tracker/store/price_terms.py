"""Dated price terms (docs/adr/0081): an offer's default payout, revenue and currency, and
each goal's prices, from a date on. A change is a new row; nothing is edited or deleted,
so a conversion (and any amendment of it) is priced with the terms of its own time.

The offer's and the goal's own columns keep the terms in force now: a change dated now
writes them at once, a scheduled one when it falls due (``apply_due``, run by the ingest
sweep); pricing never reads those columns when dated terms exist.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg

Row = dict[str, Any]
OFFER_FIELDS = ("default_payout", "default_revenue", "currency")
GOAL_FIELDS = ("payout_flat", "payout_percent", "revenue_flat", "revenue_percent")


class Scheduled(Exception):
    """A change dated before one already scheduled (it would be undone at that date)."""


async def _base(conn: asyncpg.Connection, offer_id: int, goal: str | None, actor: str) -> None:
    """Terms rows for offers and goals made before migration 0021 or by SQL: what is in
    force now becomes the terms of every earlier time."""
    exists = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM offer_price_terms WHERE offer_id = $1"
        " AND goal IS NOT DISTINCT FROM $2)",
        offer_id, goal,
    )  # fmt: skip
    if exists:
        return
    if goal is None:
        await conn.execute(
            "INSERT INTO offer_price_terms (offer_id, valid_from, currency, payout_flat,"
            " revenue_flat, actor) SELECT id, '-infinity', currency, default_payout,"
            " default_revenue, $2 FROM offers WHERE id = $1",
            offer_id, actor,
        )  # fmt: skip
    else:
        await conn.execute(
            "INSERT INTO offer_price_terms (offer_id, goal, valid_from, payout_flat,"
            " payout_percent, revenue_flat, revenue_percent, actor)"
            " SELECT offer_id, code, '-infinity', payout_flat, payout_percent, revenue_flat,"
            " revenue_percent, $3 FROM offer_goals WHERE offer_id = $1 AND code = $2",
            offer_id, goal, actor,
        )  # fmt: skip


async def first_terms(conn: asyncpg.Connection, offer_id: int) -> None:
    """A new offer's terms: its money for every time until a change."""
    await _base(conn, offer_id, None, "api")


async def change_offer(
    conn: asyncpg.Connection, offer_id: int, changes: dict[str, Any], valid_from: datetime,
    actor: str,
) -> None:  # fmt: skip
    """New default terms from ``valid_from`` (now or later): the fields not given are the
    ones in force at that time. In the caller's transaction, with the offer row locked."""
    await conn.execute("SELECT 1 FROM offers WHERE id = $1 FOR UPDATE", offer_id)
    await _base(conn, offer_id, None, actor)
    later = await conn.fetchval(
        "SELECT max(valid_from) FROM offer_price_terms WHERE offer_id = $1 AND goal IS NULL"
        " AND isfinite(valid_from)",
        offer_id,
    )
    if later is not None and later > valid_from:
        raise Scheduled(f"a change is scheduled at {later.isoformat()}: date this one after it")
    now = await conn.fetchrow(
        "SELECT currency, payout_flat, revenue_flat FROM offer_price_terms WHERE offer_id = $1"
        " AND goal IS NULL AND valid_from <= $2 ORDER BY valid_from DESC, id DESC LIMIT 1",
        offer_id, valid_from,
    )  # fmt: skip
    currency = changes.get("currency", now["currency"].strip())
    payout = changes.get("default_payout", now["payout_flat"])
    revenue = changes.get("default_revenue", now["revenue_flat"])
    await conn.execute(
        "INSERT INTO offer_price_terms (offer_id, valid_from, currency, payout_flat,"
        " revenue_flat, actor) VALUES ($1, $2, $3, $4, $5, $6)",
        offer_id, valid_from, currency, payout, revenue, actor,
    )  # fmt: skip
    await apply_due(conn, offer_id)


async def change_goal(
    conn: asyncpg.Connection, offer_id: int, code: str, prices: dict[str, Decimal], actor: str
) -> None:
    """A goal's new prices, from now on (before the goal row is written)."""
    before = await conn.fetchrow(
        "SELECT * FROM offer_goals WHERE offer_id = $1 AND code = $2 FOR UPDATE", offer_id, code
    )
    if before is None:  # a new goal: its prices for every earlier time too
        await conn.execute(
            "INSERT INTO offer_price_terms (offer_id, goal, valid_from, payout_flat,"
            " payout_percent, revenue_flat, revenue_percent, actor)"
            " VALUES ($1, $2, '-infinity', $3, $4, $5, $6, $7)",
            offer_id, code, *(prices[f] for f in GOAL_FIELDS), actor,
        )  # fmt: skip
        return
    if all(before[f] == prices[f] for f in GOAL_FIELDS):
        return
    await _base(conn, offer_id, code, actor)
    await conn.execute(
        "INSERT INTO offer_price_terms (offer_id, goal, valid_from, payout_flat, payout_percent,"
        " revenue_flat, revenue_percent, actor) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        offer_id, code, datetime.now(UTC), *(prices[f] for f in GOAL_FIELDS), actor,
    )  # fmt: skip


_DUE = """
UPDATE offers o SET currency = t.currency, default_payout = t.payout_flat,
       default_revenue = t.revenue_flat, updated_at = now()
  FROM (SELECT DISTINCT ON (offer_id) offer_id, currency, payout_flat, revenue_flat
          FROM offer_price_terms
         WHERE goal IS NULL AND valid_from <= now()
           AND offer_id IN (SELECT offer_id FROM offer_price_terms  -- only offers with a change
                             WHERE goal IS NULL AND ($1::int8 IS NULL OR offer_id = $1)
                               AND valid_from > now() - interval '7 days')  -- due recently
         ORDER BY offer_id, valid_from DESC, id DESC) t
 WHERE o.id = t.offer_id
   AND (o.currency, o.default_payout, o.default_revenue)
       IS DISTINCT FROM (t.currency, t.payout_flat, t.revenue_flat)
"""


async def apply_due(conn: asyncpg.Connection, offer_id: int | None = None) -> int:
    """Write the terms in force now into the offers' own columns (offers whose terms changed
    in the last 7 days: the sweep runs every few seconds); how many offers changed."""
    status = await conn.execute(_DUE, offer_id)
    return int(status.split()[-1])
