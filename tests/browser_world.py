"""What the browser tests share (issue 18): an offer that takes browser conversions from
given origins, clicks through the real redirect, and the stored facts to compare with."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
from redis.asyncio import Redis

from tests.conftest import create_world
from tracker import redis_keys
from tracker.settings import Settings


async def browser_world(api: httpx.AsyncClient, origins: list[str], landing: str | None = None,
                        **conversion_settings: Any) -> dict[str, Any]:  # fmt: skip
    """An advertiser, partner, offer and link; the offer takes browser conversions from
    ``origins``; its landing page gets the click id as ``click_id``."""
    w = await create_world(api, landing or "https://shop.example/landing?click_id={click_id}")
    r = await api.put(f"/api/v1/offers/{w['offer']['id']}/conversion-settings",
                      json={"browser_origins": origins, **conversion_settings})  # fmt: skip
    assert r.status_code == 200, r.text
    return w


async def click(base: str, code: str, ua: str = "Mozilla/5.0 test") -> str:
    """One real click; its id from the landing URL's click_id."""
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        r = await http.get(f"/c/{code}", headers={"User-Agent": ua})
    assert r.status_code == 302, r.text
    return parse_qs(urlsplit(r.headers["location"]).query)["click_id"][0]


async def queued(redis: Redis, settings: Settings) -> int:
    """Entries on this test's conversion streams."""
    return sum([await redis.xlen(s) for s in redis_keys.of(settings).conversion_streams()])


async def stored(pool: asyncpg.Pool, advertiser_id: int, txn_id: str) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT * FROM conversions WHERE advertiser_id = $1 AND txn_id = $2", advertiser_id, txn_id
    )
    return [dict(r) for r in rows]
