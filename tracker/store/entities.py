"""Advertisers, affiliates, offers and tracking links."""

from __future__ import annotations

import secrets
from typing import Any

import asyncpg

from schemas.api import AdvertiserIn, AffiliateIn, LinkIn, OfferIn


class Conflict(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class Missing(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


Row = dict[str, Any]


async def create_advertiser(pool: asyncpg.Pool, data: AdvertiserIn) -> Row:
    row = await pool.fetchrow(
        "INSERT INTO advertisers (name, postback_token) VALUES ($1, $2) RETURNING *",
        data.name,
        secrets.token_urlsafe(24),
    )
    return dict(row)


async def get_advertiser(pool: asyncpg.Pool, advertiser_id: int) -> Row | None:
    row = await pool.fetchrow("SELECT * FROM advertisers WHERE id = $1", advertiser_id)
    return dict(row) if row else None


async def create_affiliate(pool: asyncpg.Pool, data: AffiliateIn) -> Row:
    row = await pool.fetchrow("INSERT INTO affiliates (name) VALUES ($1) RETURNING *", data.name)
    return dict(row)


async def get_affiliate(pool: asyncpg.Pool, affiliate_id: int) -> Row | None:
    row = await pool.fetchrow("SELECT * FROM affiliates WHERE id = $1", affiliate_id)
    return dict(row) if row else None


async def create_offer(pool: asyncpg.Pool, data: OfferIn) -> Row:
    if await get_advertiser(pool, data.advertiser_id) is None:
        raise Missing("advertiser_id", f"advertiser {data.advertiser_id} does not exist")
    row = await pool.fetchrow(
        """INSERT INTO offers (advertiser_id, name, landing_url, status, currency,
                               default_payout, default_revenue)
           VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *""",
        data.advertiser_id,
        data.name,
        data.landing_url,
        data.status,
        data.currency,
        data.default_payout,
        data.default_revenue,
    )
    return dict(row)


async def get_offer(pool: asyncpg.Pool, offer_id: int) -> Row | None:
    row = await pool.fetchrow("SELECT * FROM offers WHERE id = $1", offer_id)
    return dict(row) if row else None


def new_link_code() -> str:
    return secrets.token_urlsafe(6).replace("-", "x").replace("_", "y")


async def create_link(pool: asyncpg.Pool, data: LinkIn) -> Row:
    if await get_offer(pool, data.offer_id) is None:
        raise Missing("offer_id", f"offer {data.offer_id} does not exist")
    if await get_affiliate(pool, data.affiliate_id) is None:
        raise Missing("affiliate_id", f"affiliate {data.affiliate_id} does not exist")
    for _ in range(5):
        code = data.code or new_link_code()
        try:
            row = await pool.fetchrow(
                """INSERT INTO tracking_links (code, offer_id, affiliate_id, sub1, sub2, sub3, sub4, sub5)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *""",
                code,
                data.offer_id,
                data.affiliate_id,
                data.sub1,
                data.sub2,
                data.sub3,
                data.sub4,
                data.sub5,
            )
            return dict(row)
        except asyncpg.UniqueViolationError:
            if data.code:
                raise Conflict("code", f"link code {data.code!r} is taken") from None
    raise Conflict("code", "could not allocate a unique link code")


async def get_link(pool: asyncpg.Pool, link_id: int) -> Row | None:
    row = await pool.fetchrow("SELECT * FROM tracking_links WHERE id = $1", link_id)
    return dict(row) if row else None


# What the redirect needs to resolve a code, in one round trip.
RESOLVE_SQL = """
SELECT l.id AS link_id, l.code, l.offer_id, l.affiliate_id, l.status AS link_status,
       l.sub1, l.sub2, l.sub3, l.sub4, l.sub5,
       o.landing_url, o.status AS offer_status,
       greatest(l.updated_at, o.updated_at) AS changed_at
  FROM tracking_links l JOIN offers o ON o.id = l.offer_id
"""


async def resolve_link(pool: asyncpg.Pool, code: str) -> Row | None:
    row = await pool.fetchrow(RESOLVE_SQL + " WHERE l.code = $1", code)
    return dict(row) if row else None


async def links_changed_since(pool: asyncpg.Pool, since: Any, codes: list[str]) -> list[Row]:
    """Links among ``codes`` whose link or offer changed after ``since``."""
    rows = await pool.fetch(
        RESOLVE_SQL
        + " WHERE l.code = ANY($2::text[]) AND (l.updated_at > $1 OR o.updated_at > $1)",
        since,
        codes,
    )
    return [dict(r) for r in rows]
