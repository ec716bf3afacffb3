"""The facts attribution needs, read from Postgres: the click, the promo code,
the visitor's first click, and what the fraud rules count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from tracker.domain.attribution import ClickFacts, CodeFacts
from tracker.domain.ids import uuid7_time_ms

_CLICK = """
SELECT c.click_id, c.created_at, c.offer_id, c.affiliate_id, c.click_class, c.country, c.device,
       c.sub1, c.ip_trunc, c.ip_hash, c.user_agent, o.advertiser_id, o.attribution_window_days,
       coalesce(s.coupon_wins, false) AS coupon_wins,
       coalesce(s.attribution_model, 'last_click') AS model
  FROM clicks c JOIN offers o ON o.id = c.offer_id
  LEFT JOIN offer_conversion_settings s ON s.offer_id = c.offer_id
 WHERE c.click_id = $1 AND c.created_at >= $2 AND c.created_at < $3
"""

# The same visitor (same /24 and User-Agent: the best key the clicks carry) on the same offer.
_FIRST = """
SELECT click_id, created_at FROM clicks
 WHERE offer_id = $1 AND ip_trunc IS NOT DISTINCT FROM $2 AND user_agent IS NOT DISTINCT FROM $3
   AND created_at >= $4 AND created_at <= $5
 ORDER BY created_at, click_id LIMIT 1
"""

_CODE = """
SELECT p.code, p.offer_id, p.affiliate_id, p.payout_flat, p.payout_percent,
       coalesce(s.coupon_wins, false) AS coupon_wins
  FROM promo_codes p JOIN offers o ON o.id = p.offer_id
  LEFT JOIN offer_conversion_settings s ON s.offer_id = p.offer_id
 WHERE lower(p.code) = lower($1) AND o.advertiser_id = $2 AND p.starts_at <= $3 AND $3 < p.ends_at
 ORDER BY p.starts_at DESC, p.id DESC LIMIT 1
"""


def click_time(click_id: UUID) -> datetime | None:
    """The time a UUIDv7 click id carries, or None when it cannot be one of ours."""
    if click_id.version != 7:
        return None
    return datetime.fromtimestamp(uuid7_time_ms(click_id) / 1000, UTC)


async def find_click(conn: asyncpg.Connection, click_id: UUID) -> Any:
    at = click_time(click_id)
    if at is None:
        return None
    return await conn.fetchrow(_CLICK, click_id, at - timedelta(days=1), at + timedelta(days=1))


def click_facts(row: Any) -> ClickFacts:
    return ClickFacts(str(row["click_id"]), row["created_at"], row["offer_id"],
                      row["affiliate_id"], row["attribution_window_days"], row["coupon_wins"])  # fmt: skip


async def first_click(conn: asyncpg.Connection, row: Any, at: datetime) -> Any:
    """The visitor's earliest click on the offer inside the window, if earlier than ``row``."""
    since = at - timedelta(days=row["attribution_window_days"])
    first = await conn.fetchrow(
        _FIRST, row["offer_id"], row["ip_trunc"], row["user_agent"], since, row["created_at"]
    )
    if first is None or first["click_id"] == row["click_id"]:
        return row
    return await find_click(conn, first["click_id"])


async def find_code(
    conn: asyncpg.Connection, code: str, advertiser_id: int, at: datetime
) -> tuple[CodeFacts, Any] | None:
    row = await conn.fetchrow(_CODE, code, advertiser_id, at)
    if row is None:
        return None
    return CodeFacts(row["code"], row["offer_id"], row["affiliate_id"], row["coupon_wins"]), row


def ip_key(click: Any) -> str | None:
    if click is None:
        return None
    if click["ip_hash"] is not None:
        return bytes(click["ip_hash"]).hex()
    return str(click["ip_trunc"]) if click["ip_trunc"] is not None else None


async def month_to_date(
    conn: asyncpg.Connection, offer_id: int, affiliate_id: int, start: datetime, end: datetime,
    *, before: tuple[datetime, UUID],
) -> tuple[int, Decimal, Decimal]:  # fmt: skip
    """The partner's approved conversions on the offer in the month, before the conversion
    ``before`` (its time and id: itself excluded, so a re-pricing sees what it saw)."""
    row = await conn.fetchrow(
        "SELECT count(*) AS n, coalesce(sum(amount_converted), 0) AS amount,"
        " coalesce(sum(revenue), 0) AS revenue FROM conversions"
        " WHERE offer_id = $1 AND affiliate_id = $2 AND status = 'approved'"
        " AND created_at >= $3 AND created_at < $4 AND created_at <= $5"
        " AND conversion_id <> $6",
        offer_id, affiliate_id, start, end, before[0], before[1],
    )  # fmt: skip
    return int(row["n"]), Decimal(row["amount"]), Decimal(row["revenue"])


async def txn_seen(conn: asyncpg.Connection, advertiser_id: int, txn_id: str, goal: str) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM conversions WHERE advertiser_id = $1 AND txn_id = $2"
            " AND goal <> $3)",
            advertiser_id,
            txn_id,
            goal,
        )
    )


async def conversions_from_ip(
    conn: asyncpg.Connection, offer_id: int, key: str, at: datetime
) -> int:
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM conversions WHERE offer_id = $1 AND ip_key = $2"
            " AND created_at > $3 AND created_at <= $4",
            offer_id,
            key,
            at - timedelta(hours=24),
            at,
        )
    )


async def clicks_on_sub(conn: asyncpg.Connection, click: Any) -> int:
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM clicks WHERE offer_id = $1 AND sub1 = $2"
            " AND created_at > $3 AND created_at <= $4",
            click["offer_id"],
            click["sub1"],
            click["created_at"] - timedelta(hours=1),
            click["created_at"],
        )
    )


async def goal_history(
    conn: asyncpg.Connection, click_id: UUID, goal: str
) -> tuple[int, datetime | None]:
    """(counted or held conversions of this goal on this click, time of the first)."""
    row = await conn.fetchrow(
        "SELECT count(*) AS n, min(created_at) AS first FROM conversions"
        " WHERE click_id = $1 AND goal = $2 AND status IN ('pending', 'approved', 'held')",
        click_id, goal,
    )  # fmt: skip
    return int(row["n"]), row["first"]
