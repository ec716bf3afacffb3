"""API keys in Postgres: only the hash is stored."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from tracker.domain.keys import NewKey, matches, new_key, parse_prefix


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: int
    role: str
    scopes: frozenset[str]
    advertiser_id: int | None
    affiliate_id: int | None
    rate_limit_per_min: int | None = None
    in_house: bool = False  # an advertiser key of an in-house program (sees payouts)


async def create_key(
    conn: asyncpg.Pool | asyncpg.Connection,
    role: str,
    *,
    scopes: tuple[str, ...] = ("read", "write"),
    advertiser_id: int | None = None,
    affiliate_id: int | None = None,
    label: str | None = None,
    rate_limit_per_min: int | None = None,
) -> NewKey:
    key = new_key()
    await conn.execute(
        """INSERT INTO api_keys (prefix, key_hash, role, scopes, advertiser_id, affiliate_id, label,
                                 rate_limit_per_min)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
        key.prefix, key.hash, role, list(scopes), advertiser_id, affiliate_id, label,
        rate_limit_per_min,
    )  # fmt: skip
    return key


async def list_keys(pool: asyncpg.Pool, limit: int, after_id: int) -> list[dict[str, object]]:
    rows = await pool.fetch(
        """SELECT id, prefix, role, scopes, advertiser_id, affiliate_id, label, rate_limit_per_min,
                  created_at, revoked_at FROM api_keys WHERE id > $1 ORDER BY id LIMIT $2""",
        after_id, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def revoke(pool: asyncpg.Pool, key_id: int) -> bool:
    status: str = await pool.execute(
        "UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", key_id
    )
    return status.endswith(" 1")


async def authenticate(pool: asyncpg.Pool, token: str) -> Principal | None:
    prefix = parse_prefix(token)
    if prefix is None:
        return None
    row = await pool.fetchrow(
        "SELECT k.*, coalesce(a.in_house, false) AS in_house FROM api_keys k"
        " LEFT JOIN advertisers a ON a.id = k.advertiser_id"
        " WHERE k.prefix = $1 AND k.revoked_at IS NULL",
        prefix,
    )
    if row is None or not matches(token, row["key_hash"]):
        return None
    return Principal(
        row["id"], row["role"], frozenset(row["scopes"]), row["advertiser_id"], row["affiliate_id"],
        row["rate_limit_per_min"], row["in_house"],
    )  # fmt: skip
