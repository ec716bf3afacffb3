"""How an advertiser authenticates its postbacks: token, HMAC secret, IP allowlist."""

from __future__ import annotations

import time
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network

import asyncpg

_BY_ID = """
SELECT a.id, a.postback_token, p.hmac_secret, coalesce(p.require_signature, false) AS require_signature,
       coalesce(p.ip_allowlist, '{}') AS ip_allowlist, coalesce(p.allow_pixel, true) AS allow_pixel
  FROM advertisers a LEFT JOIN advertiser_postback_auth p ON p.advertiser_id = a.id
 WHERE a.status = 'active' AND """


@dataclass(frozen=True)
class AdvertiserAuth:
    advertiser_id: int
    token: str
    hmac_secret: str | None
    require_signature: bool
    ip_allowlist: tuple[IPv4Network | IPv6Network, ...]
    allow_pixel: bool


def _auth(row: asyncpg.Record | None) -> AdvertiserAuth | None:
    if row is None:
        return None
    return AdvertiserAuth(row["id"], row["postback_token"], row["hmac_secret"],
                          row["require_signature"], tuple(row["ip_allowlist"]), row["allow_pixel"])  # fmt: skip


# Per process, for postback_auth_cache_s: a revoked token or a new allowlist takes effect
# everywhere within that time (at once in the process that saved it).
_cache: dict[object, tuple[float, AdvertiserAuth | None]] = {}


async def _cached(
    pool: asyncpg.Pool, key: object, where: str, arg: object, ttl: float
) -> AdvertiserAuth | None:
    now = time.monotonic()
    hit = _cache.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    auth = _auth(await pool.fetchrow(_BY_ID + where, arg))
    if len(_cache) > 10_000:
        _cache.clear()
    if auth is not None:  # unknown ones are not cached: nobody can fill the cache with misses
        _cache[key] = (now + ttl, auth)
    return auth


async def by_id(pool: asyncpg.Pool, advertiser_id: int, ttl: float = 0.0) -> AdvertiserAuth | None:
    return await _cached(pool, advertiser_id, "a.id = $1", advertiser_id, ttl)


async def by_token(pool: asyncpg.Pool, token: str, ttl: float = 0.0) -> AdvertiserAuth | None:
    return await _cached(pool, ("token", token), "a.postback_token = $1", token, ttl)


async def save(
    pool: asyncpg.Pool, advertiser_id: int, hmac_secret: str | None, require_signature: bool,
    ip_allowlist: list[str], allow_pixel: bool,
) -> None:  # fmt: skip
    _cache.clear()
    await pool.execute(
        """INSERT INTO advertiser_postback_auth
               (advertiser_id, hmac_secret, require_signature, ip_allowlist, allow_pixel)
           VALUES ($1, $2, $3, $4::cidr[], $5)
           ON CONFLICT (advertiser_id) DO UPDATE SET hmac_secret = EXCLUDED.hmac_secret,
               require_signature = EXCLUDED.require_signature,
               ip_allowlist = EXCLUDED.ip_allowlist, allow_pixel = EXCLUDED.allow_pixel""",
        advertiser_id, hmac_secret, require_signature, ip_allowlist, allow_pixel,
    )  # fmt: skip


async def settings_of(pool: asyncpg.Pool, advertiser_id: int) -> dict[str, object] | None:
    """What an admin may read back (whether a secret is set, not the secret); None for an
    unknown advertiser. An advertiser without settings has the defaults."""
    row = await pool.fetchrow(
        """SELECT p.hmac_secret IS NOT NULL AS has_secret,
                  coalesce(p.require_signature, false) AS require_signature,
                  coalesce(p.ip_allowlist, '{}') AS ip_allowlist,
                  coalesce(p.allow_pixel, true) AS allow_pixel
             FROM advertisers a LEFT JOIN advertiser_postback_auth p ON p.advertiser_id = a.id
            WHERE a.id = $1""",
        advertiser_id,
    )
    if row is None:
        return None
    return {**dict(row), "ip_allowlist": [str(n) for n in row["ip_allowlist"]]}
