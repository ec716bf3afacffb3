"""What the browser-conversion intake checks before it queues anything (issue 18): the
offer's sites and limits, and the click the browser names."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID

import asyncpg

from tracker.store.conversion_facts import click_time, find_click

_OFFER = """
SELECT o.id, o.advertiser_id, o.attribution_window_days,
       coalesce(s.browser_origins, '{}') AS origins,
       coalesce(s.browser_status, 'pending') AS status,
       coalesce(s.browser_max_amount, 100000) AS max_amount
  FROM offers o LEFT JOIN offer_conversion_settings s ON s.offer_id = o.id
 WHERE o.id = $1
"""
_SKEW = timedelta(seconds=5)


@dataclass(frozen=True)
class OfferGate:
    offer_id: int
    advertiser_id: int
    window_days: int
    origins: frozenset[str]
    status: str
    max_amount: Decimal


# Per process, for conversion_rules_cache_s: a preflight and its POST read the offer once.
_cache: dict[int, tuple[float, OfferGate]] = {}


async def offer_gate(pool: asyncpg.Pool, offer_id: int, ttl: float) -> OfferGate | None:
    now = time.monotonic()
    hit = _cache.get(offer_id)
    if hit is not None and hit[0] > now:
        return hit[1]
    row = await pool.fetchrow(_OFFER, offer_id)
    if row is None:
        return None  # unknown offers are not cached: nobody fills the cache with misses
    gate = OfferGate(row["id"], row["advertiser_id"], row["attribution_window_days"],
                     frozenset(row["origins"]), row["status"], row["max_amount"])  # fmt: skip
    if len(_cache) > 10_000:
        _cache.clear()
    _cache[offer_id] = (now + ttl, gate)
    return gate


async def click_offer(pool: asyncpg.Pool, click_id: UUID, advertiser_id: int,
                      wait_s: float) -> tuple[str, int | None]:  # fmt: skip
    """``("found", offer id)`` for a click of the advertiser; ``("in_flight", None)`` for one
    that may still be on its way to Postgres (younger than ``wait_s``: the worker waits for
    it, as for a postback); ``("unknown", None)`` otherwise."""
    born = click_time(click_id)
    now = datetime.now(UTC)
    if born is None or born > now + _SKEW:
        return "unknown", None
    async with pool.acquire() as conn:
        row = await find_click(conn, click_id)
    if row is None:
        return ("in_flight" if now - born <= timedelta(seconds=wait_s) else "unknown"), None
    if row["advertiser_id"] != advertiser_id:
        return "unknown", None  # another tenant's click reads as unknown
    return "found", row["offer_id"]
