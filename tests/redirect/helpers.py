"""Helpers of the redirect tests: worlds made through the API, stream contents."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx
import orjson
from redis.asyncio import Redis

from tracker import redis_keys
from tracker.settings import Settings

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36"
)


async def make_offer(api: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    adv = (await api.post("/api/v1/advertisers", json={"name": "Shop"})).json()
    body = {
        "advertiser_id": adv["id"],
        "name": "Offer",
        "landing_url": "https://shop.example/l?cid={click_id}&s1={sub1}",
        **fields,
    }
    r = await api.post("/api/v1/offers", json=body)
    assert r.status_code == 201, r.text
    offer: dict[str, Any] = r.json()
    return offer


async def make_link(api: httpx.AsyncClient, offer: dict[str, Any], **fields: Any) -> dict[str, Any]:
    aff = (await api.post("/api/v1/affiliates", json={"name": "Partner"})).json()
    r = await api.post(
        "/api/v1/links", json={"offer_id": offer["id"], "affiliate_id": aff["id"], **fields}
    )
    assert r.status_code == 201, r.text
    link: dict[str, Any] = r.json()
    return link


async def stream_events(
    redis: Redis, settings: Settings, wait_for: int = 0
) -> list[dict[str, Any]]:
    """Every event on this test's click streams (waits up to 3 s for ``wait_for`` of them)."""
    events: list[dict[str, Any]] = []
    for _ in range(60):
        events = []
        for stream in redis_keys.of(settings).click_streams():
            for _id, fields in await redis.xrange(stream):
                assert fields[b"v"] == b"1"
                events.extend(orjson.loads(fields[b"clicks"]))
        if len(events) >= wait_for:
            break
        await asyncio.sleep(0.05)
    return events


async def link_world(pool: asyncpg.Pool, name: str) -> tuple[int, str]:
    """An advertiser, a partner, an offer and a link written straight into Postgres (for
    tests whose servers run as subprocesses); returns the partner id and the link code."""
    adv = await pool.fetchval(
        "INSERT INTO advertisers (name, postback_token) VALUES ($1, 't') RETURNING id", name
    )
    aff = await pool.fetchval("INSERT INTO affiliates (name) VALUES ($1) RETURNING id", name)
    offer = await pool.fetchval(
        "INSERT INTO offers (advertiser_id, name, landing_url) VALUES ($1, 'o', $2) RETURNING id",
        adv, "https://shop.example/l?cid={click_id}&s1={sub1}",
    )  # fmt: skip
    code = f"{name[:3]}{uuid.uuid4().hex[:10]}"
    await pool.execute("INSERT INTO tracking_links (code, offer_id, affiliate_id) VALUES ($1, $2, $3)",
                       code, offer, aff)  # fmt: skip
    return int(aff), code
