"""Tracking domains in Postgres: registered by admins, read by every process (issue 18)."""

from __future__ import annotations

from typing import Any

import asyncpg

from schemas.domains import AdvertiserDomainIn, PartnerDomainIn, TrackingDomainIn
from tracker.domain.hosts import TrackingDomain
from tracker.store.entities import Conflict, Missing

Row = dict[str, Any]
_COLS = "id, hostname, scope, advertiser_id, affiliate_id, created_at"


async def create(pool: asyncpg.Pool, data: TrackingDomainIn) -> Row:
    adv = data.advertiser_id if isinstance(data, AdvertiserDomainIn) else None
    aff = data.affiliate_id if isinstance(data, PartnerDomainIn) else None
    try:
        row = await pool.fetchrow(
            f"""INSERT INTO tracking_domains (hostname, scope, advertiser_id, affiliate_id)
                VALUES ($1, $2, $3, $4) RETURNING {_COLS}""",
            data.hostname, data.scope, adv, aff,
        )  # fmt: skip
    except asyncpg.UniqueViolationError:
        raise Conflict("hostname", f"{data.hostname} is registered already") from None
    except asyncpg.ForeignKeyViolationError:
        field = "advertiser_id" if adv is not None else "affiliate_id"
        raise Missing(field, f"{field} {adv or aff} does not exist") from None
    return dict(row)


async def get(pool: asyncpg.Pool, domain_id: int) -> Row | None:
    row = await pool.fetchrow(f"SELECT {_COLS} FROM tracking_domains WHERE id = $1", domain_id)
    return dict(row) if row is not None else None


async def page(pool: asyncpg.Pool, after_id: int, limit: int, advertiser_id: int | None,
               affiliate_id: int | None) -> list[Row]:  # fmt: skip
    rows = await pool.fetch(
        f"""SELECT {_COLS} FROM tracking_domains
             WHERE id > $1 AND ($3::bigint IS NULL OR advertiser_id = $3)
               AND ($4::bigint IS NULL OR affiliate_id = $4)
             ORDER BY id LIMIT $2""",
        after_id, limit, advertiser_id, affiliate_id,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def delete(pool: asyncpg.Pool, domain_id: int) -> bool:
    return await pool.fetchval("DELETE FROM tracking_domains WHERE id = $1 RETURNING true",
                               domain_id) is not None  # fmt: skip


async def every(conn: asyncpg.Pool | asyncpg.Connection) -> list[TrackingDomain]:
    """All of them: a few per advertiser at most, read whole."""
    rows = await conn.fetch(
        "SELECT id, hostname, scope, advertiser_id, affiliate_id FROM tracking_domains"
    )
    return [TrackingDomain(**dict(r)) for r in rows]


async def hostnames(pool: asyncpg.Pool) -> list[str]:
    return [r["hostname"] for r in await pool.fetch("SELECT hostname FROM tracking_domains")]


async def advertisers_of(pool: asyncpg.Pool, offer_ids: list[int]) -> dict[int, int]:
    rows = await pool.fetch(
        "SELECT id, advertiser_id FROM offers WHERE id = ANY($1::bigint[])", offer_ids
    )
    return {r["id"]: r["advertiser_id"] for r in rows}
