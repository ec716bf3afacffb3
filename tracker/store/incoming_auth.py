"""How an advertiser authenticates its postbacks: token, HMAC secret, IP allowlist."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from ipaddress import IPv4Network, IPv6Network
from uuid import UUID

import asyncpg

from tracker.store.conversion_facts import click_time

_BY_ID = """
SELECT a.id, a.postback_token, p.hmac_secret,
       CASE WHEN p.previous_until > now() THEN p.previous_secret END AS previous_secret,
       CASE WHEN p.previous_until > now() THEN p.previous_until END AS previous_until,
       coalesce(p.require_signature, false) AS require_signature,
       coalesce(p.ip_allowlist, '{}') AS ip_allowlist, coalesce(p.allow_pixel, false) AS allow_pixel,
       coalesce(p.pixel_status, 'pending') AS pixel_status
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
    pixel_status: str = "pending"
    previous_secret: str | None = None  # valid until previous_until (a rotation's overlap)
    previous_until: datetime | None = None

    def secrets(self, now: datetime) -> list[str]:
        """The secrets a signature may be made with now: the current one, then the previous
        one during its overlap."""
        out = [self.hmac_secret] if self.hmac_secret else []
        if self.previous_secret and self.previous_until is not None and now < self.previous_until:
            out.append(self.previous_secret)
        return out


def _auth(row: asyncpg.Record | None) -> AdvertiserAuth | None:
    if row is None:
        return None
    return AdvertiserAuth(row["id"], row["postback_token"], row["hmac_secret"],
                          row["require_signature"], tuple(row["ip_allowlist"]), row["allow_pixel"],
                          row["pixel_status"], row["previous_secret"], row["previous_until"])  # fmt: skip


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


# A new secret (given, and not the current one) moves the current one to previous_secret,
# valid for the overlap ($3 seconds); no secret given keeps the current one.
_ROTATE = """
    hmac_secret = coalesce(EXCLUDED.hmac_secret, p.hmac_secret),
    previous_secret = CASE WHEN EXCLUDED.hmac_secret IS DISTINCT FROM p.hmac_secret
        AND EXCLUDED.hmac_secret IS NOT NULL THEN p.hmac_secret ELSE p.previous_secret END,
    previous_until = CASE WHEN EXCLUDED.hmac_secret IS DISTINCT FROM p.hmac_secret
        AND EXCLUDED.hmac_secret IS NOT NULL
        THEN CASE WHEN p.hmac_secret IS NULL THEN NULL ELSE now() + make_interval(secs => $3::int) END
        ELSE p.previous_until END"""


async def save(
    pool: asyncpg.Pool, advertiser_id: int, hmac_secret: str | None, require_signature: bool,
    ip_allowlist: list[str], allow_pixel: bool, pixel_status: str, overlap_s: int,
) -> None:  # fmt: skip
    """The settings; ``hmac_secret`` None keeps the secret there is (rotation: rotate())."""
    _cache.clear()
    await pool.execute(
        f"""INSERT INTO advertiser_postback_auth AS p (advertiser_id, hmac_secret,
               require_signature, ip_allowlist, allow_pixel, pixel_status)
           VALUES ($1, $2, $4, $5::cidr[], $6, $7)
           ON CONFLICT (advertiser_id) DO UPDATE SET {_ROTATE},
               require_signature = EXCLUDED.require_signature,
               ip_allowlist = EXCLUDED.ip_allowlist, allow_pixel = EXCLUDED.allow_pixel,
               pixel_status = EXCLUDED.pixel_status""",
        advertiser_id, hmac_secret, overlap_s, require_signature, ip_allowlist, allow_pixel,
        pixel_status,
    )  # fmt: skip


async def rotate(
    pool: asyncpg.Pool, advertiser_id: int, secret: str, overlap_s: int
) -> datetime | None:
    """A new secret; the previous one stays valid for ``overlap_s`` (its end is returned)."""
    _cache.clear()
    return await pool.fetchval(  # type: ignore[no-any-return]
        f"""INSERT INTO advertiser_postback_auth AS p (advertiser_id, hmac_secret)
           VALUES ($1, $2)
           ON CONFLICT (advertiser_id) DO UPDATE SET {_ROTATE}
           RETURNING p.previous_until""",
        advertiser_id, secret, overlap_s,
    )  # fmt: skip


async def settings_of(pool: asyncpg.Pool, advertiser_id: int) -> dict[str, object] | None:
    """What an admin may read back (whether a secret is set, not the secret); None for an
    unknown advertiser. An advertiser without settings has the defaults."""
    row = await pool.fetchrow(
        """SELECT p.hmac_secret IS NOT NULL AS has_secret,
                  CASE WHEN p.previous_until > now() THEN p.previous_until END AS previous_until,
                  coalesce(p.require_signature, false) AS require_signature,
                  coalesce(p.ip_allowlist, '{}') AS ip_allowlist,
                  coalesce(p.allow_pixel, false) AS allow_pixel,
                  coalesce(p.pixel_status, 'pending') AS pixel_status
             FROM advertisers a LEFT JOIN advertiser_postback_auth p ON p.advertiser_id = a.id
            WHERE a.id = $1""",
        advertiser_id,
    )
    if row is None:
        return None
    return {**dict(row), "ip_allowlist": [str(n) for n in row["ip_allowlist"]]}


_PIXEL_CLICK = """
SELECT o.id, o.currency, s.pixel_min_amount AS lo, s.pixel_max_amount AS hi
  FROM clicks c JOIN offers o ON o.id = c.offer_id
  LEFT JOIN offer_conversion_settings s ON s.offer_id = o.id
 WHERE c.click_id = $1 AND c.created_at >= $2 AND c.created_at < $3 AND o.advertiser_id = $4
"""
_PIXEL_CODE = """
SELECT o.id, o.currency, s.pixel_min_amount AS lo, s.pixel_max_amount AS hi
  FROM promo_codes p JOIN offers o ON o.id = p.offer_id
  LEFT JOIN offer_conversion_settings s ON s.offer_id = o.id
 WHERE lower(p.code) = lower($1) AND o.advertiser_id = $2 AND p.starts_at <= now()
   AND now() < p.ends_at
 ORDER BY p.starts_at DESC, p.id DESC LIMIT 1
"""


@dataclass(frozen=True)
class PixelOffer:
    offer_id: int
    currency: str
    min_amount: Decimal | None
    max_amount: Decimal | None


async def pixel_offer(
    pool: asyncpg.Pool, advertiser_id: int, click_id: UUID | None, coupon: str | None
) -> PixelOffer | None:
    """The offer a pixel converts on (its recorded click's, or its promo code's), with the
    pixel amount bounds of its conversion settings; None when neither is known."""
    row = None
    at = click_time(click_id) if click_id is not None else None
    if at is not None:
        row = await pool.fetchrow(_PIXEL_CLICK, click_id, at - timedelta(days=1),
                                  at + timedelta(days=1), advertiser_id)  # fmt: skip
    if row is None and coupon:
        row = await pool.fetchrow(_PIXEL_CODE, coupon, advertiser_id)
    if row is None:
        return None
    return PixelOffer(row["id"], row["currency"].strip(), row["lo"], row["hi"])
