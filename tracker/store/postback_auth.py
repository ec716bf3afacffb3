"""How an advertiser authenticates its postbacks: token, HMAC secret, IP allowlist."""

from __future__ import annotations

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


async def by_id(pool: asyncpg.Pool, advertiser_id: int) -> AdvertiserAuth | None:
    return _auth(await pool.fetchrow(_BY_ID + "a.id = $1", advertiser_id))


async def by_token(pool: asyncpg.Pool, token: str) -> AdvertiserAuth | None:
    return _auth(await pool.fetchrow(_BY_ID + "a.postback_token = $1", token))


async def save(
    pool: asyncpg.Pool, advertiser_id: int, hmac_secret: str | None, require_signature: bool,
    ip_allowlist: list[str], allow_pixel: bool,
) -> None:  # fmt: skip
    await pool.execute(
        """INSERT INTO advertiser_postback_auth
               (advertiser_id, hmac_secret, require_signature, ip_allowlist, allow_pixel)
           VALUES ($1, $2, $3, $4::cidr[], $5)
           ON CONFLICT (advertiser_id) DO UPDATE SET hmac_secret = EXCLUDED.hmac_secret,
               require_signature = EXCLUDED.require_signature,
               ip_allowlist = EXCLUDED.ip_allowlist, allow_pixel = EXCLUDED.allow_pixel""",
        advertiser_id, hmac_secret, require_signature, ip_allowlist, allow_pixel,
    )  # fmt: skip
