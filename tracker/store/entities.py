"""Advertisers, affiliates, offers and tracking links."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from schemas.api import AdvertiserIn, AffiliateIn, LinkIn, LinkPatch, OfferIn, OfferPatch
from tracker.store import price_terms

# A money change dated this far back is taken as "now" (clocks differ); further back, refused.
_PAST = timedelta(minutes=5)


class Conflict(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class Invalid(Exception):
    """A value the checks of the schema cannot state (a date relative to now)."""

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
        "INSERT INTO advertisers (name, postback_token, in_house) VALUES ($1, $2, $3) RETURNING *",
        data.name,
        secrets.token_urlsafe(24),
        data.in_house,
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


_OFFER_COLUMNS = (
    "advertiser_id", "name", "landing_url", "status", "currency", "default_payout",
    "default_revenue", "fallback_url", "deep_links", "deep_link_domains", "expires_at",
    "daily_click_cap", "total_click_cap", "cookieless", "pass_params", "attribution_window_days",
)  # fmt: skip


async def create_offer(pool: asyncpg.Pool, data: OfferIn) -> Row:
    if await get_advertiser(pool, data.advertiser_id) is None:
        raise Missing("advertiser_id", f"advertiser {data.advertiser_id} does not exist")
    values = [getattr(data, c) for c in _OFFER_COLUMNS]
    marks = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            f"INSERT INTO offers ({', '.join(_OFFER_COLUMNS)}) VALUES ({marks}) RETURNING *",
            *values,
        )
        await price_terms.first_terms(conn, row["id"])
    return dict(row)


_TABLES = frozenset({"advertisers", "affiliates", "offers", "tracking_links"})


async def get_row(pool: asyncpg.Pool, table: str, ident: int) -> Row | None:
    assert table in _TABLES
    row = await pool.fetchrow(f"SELECT * FROM {table} WHERE id = $1", ident)
    return dict(row) if row else None


async def update_row(
    pool: asyncpg.Pool, table: str, ident: int, changes: dict[str, Any]
) -> Row | None:
    assert table in _TABLES
    return await _update(pool, table, ident, changes)


async def _update(
    pool: asyncpg.Pool | asyncpg.Connection, table: str, ident: int, changes: dict[str, Any]
) -> Row | None:
    """UPDATE the given columns (names come from our models, never from callers)."""
    cols = list(changes)
    sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(cols, start=2))
    sets = f"{sets}, updated_at = now()" if sets else "updated_at = now()"
    row = await pool.fetchrow(
        f"UPDATE {table} SET {sets} WHERE id = $1 RETURNING *", ident, *changes.values()
    )
    return dict(row) if row else None


async def update_offer(
    pool: asyncpg.Pool, offer_id: int, data: OfferPatch, actor: str = "api"
) -> Row | None:
    changes = data.model_dump(exclude_unset=True)
    for required in ("name", "landing_url", "status", "deep_links", "deep_link_domains",
                     "cookieless", "pass_params", "attribution_window_days", *price_terms.OFFER_FIELDS,
                     "money_from"):  # fmt: skip
        if required in changes and changes[required] is None:
            raise Missing(required, f"{required} cannot be null")
    money = {f: changes.pop(f) for f in price_terms.OFFER_FIELDS if f in changes}
    now = datetime.now(UTC)
    start = changes.pop("money_from", None)
    if start is not None and not money:
        raise Invalid("money_from", "money_from goes with default_payout, default_revenue or "
                      "currency")  # fmt: skip
    if start is not None and start < now - _PAST:
        raise Invalid("money_from", "money_from is in the past: conversions priced since then "
                      "keep their price")  # fmt: skip
    start = max(start or now, now)
    async with pool.acquire() as conn, conn.transaction():
        if money:
            try:
                await price_terms.change_offer(conn, offer_id, money, start, actor)
            except price_terms.Scheduled as exc:
                raise Conflict("money_from", str(exc)) from None
        return await _update(conn, "offers", offer_id, changes)


async def update_link(pool: asyncpg.Pool, link_id: int, data: LinkPatch) -> Row | None:
    changes = data.model_dump(exclude_unset=True)
    if "status" in changes and changes["status"] is None:
        raise Missing("status", "status cannot be null")
    return await _update(pool, "tracking_links", link_id, changes)


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


# What the redirect caches: links (by code, loaded on first use), offers and
# affiliates (all of them, re-read when they change).
_LINK_SQL = """SELECT id, code, offer_id, affiliate_id, status, sub1, sub2, sub3, sub4, sub5
                 FROM tracking_links"""
_OFFER_SQL = f"SELECT id, {', '.join(_OFFER_COLUMNS)} FROM offers"


async def resolve_link(pool: asyncpg.Pool, code: str) -> Row | None:
    row = await pool.fetchrow(_LINK_SQL + " WHERE code = $1", code)
    return dict(row) if row else None


async def links_changed_since(pool: asyncpg.Pool, since: Any, codes: list[str]) -> list[Row]:
    """Links among ``codes`` changed after ``since``."""
    rows = await pool.fetch(
        _LINK_SQL + " WHERE code = ANY($2::text[]) AND updated_at > $1", since, codes
    )
    return [dict(r) for r in rows]


async def offers_changed_since(pool: asyncpg.Pool, since: Any) -> list[Row]:
    """Every offer changed after ``since`` (all of them when ``since`` is None)."""
    if since is None:
        rows = await pool.fetch(_OFFER_SQL)
    else:
        rows = await pool.fetch(_OFFER_SQL + " WHERE updated_at > $1", since)
    return [dict(r) for r in rows]


async def affiliates_changed_since(pool: asyncpg.Pool, since: Any) -> list[Row]:
    if since is None:
        rows = await pool.fetch("SELECT id, status FROM affiliates")
    else:
        rows = await pool.fetch("SELECT id, status FROM affiliates WHERE updated_at > $1", since)
    return [dict(r) for r in rows]
