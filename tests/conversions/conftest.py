"""Helpers of the conversion tests: world building through the API, clicks through the
real redirect, and the real ingest worker run in burst mode in this process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pytest

from ingest.worker import Worker
from tracker.redis_client import open_redis
from tracker.settings import Settings
from tracker.store.db import open_pool


async def burst(settings: Settings, workers: int = 1) -> None:
    """Drain every stream with the real worker (its conversion path included); with
    ``workers`` > 1, that many consumers of the group run at once."""
    assert settings.database_url and settings.redis_url
    pool = await open_pool(settings, settings.database_url, max_size=4 * workers)
    redis = open_redis(settings, settings.redis_url, block_ms=settings.ingest_block_ms)
    try:
        crew = [Worker(settings, pool, redis, consumer=f"t{i}", claim_idle_ms=1_000)
                for i in range(workers)]  # fmt: skip
        await asyncio.wait_for(asyncio.gather(*(w.run(burst=True) for w in crew)), 170)
    finally:
        await redis.aclose()
        await pool.close()


async def clicks(service: str, code: str, n: int, *, ua: str = "ua", concurrency: int = 20,
                 sub1: str | None = None) -> list[str]:  # fmt: skip
    """Click ids from the Location of ``n`` real redirects (landing carries cid={click_id})."""
    out: list[str] = [""] * n
    sem = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=service, timeout=10) as http:

        async def one(i: int) -> None:
            async with sem:
                params = {"sub1": sub1} if sub1 else {}
                r = await http.get(f"/c/{code}", params=params,
                                   headers={"User-Agent": f"{ua} {i}"})  # fmt: skip
                assert r.status_code == 302, r.text
                out[i] = parse_qs(urlsplit(r.headers["location"]).query)["cid"][0]

        await asyncio.gather(*(one(i) for i in range(n)))
    return out


async def make(
    api: httpx.AsyncClient, path: str, body: dict[str, Any], method: str = "POST"
) -> Any:
    r = await api.request(method, path, json=body)
    assert r.status_code in (200, 201), (path, r.status_code, r.text)
    return r.json()


LANDING = "https://shop.example/l?cid={click_id}"


async def world(api: httpx.AsyncClient, *, partners: int = 1, offers: int = 1,
                payout: str = "2.50", revenue: str = "4.00",
                currencies: list[str] | None = None) -> dict[str, Any]:  # fmt: skip
    adv = await make(api, "/api/v1/advertisers", {"name": "Shop"})
    affs = [await make(api, "/api/v1/affiliates", {"name": f"P{i}"}) for i in range(partners)]
    offs = [
        await make(api, "/api/v1/offers", {
            "advertiser_id": adv["id"], "name": f"O{j}", "landing_url": LANDING,
            "default_payout": payout, "default_revenue": revenue,
            "currency": (currencies or ["USD"] * offers)[j]})
        for j in range(offers)
    ]  # fmt: skip
    links = {
        (o["id"], a["id"]): await make(
            api, "/api/v1/links", {"offer_id": o["id"], "affiliate_id": a["id"]}
        )
        for o in offs
        for a in affs
    }
    return {"advertiser": adv, "affiliates": affs, "offers": offs, "links": links}


@pytest.fixture
async def http(service: str) -> AsyncIterator[httpx.AsyncClient]:
    """An unauthenticated client: what merchants use."""
    async with httpx.AsyncClient(base_url=service, timeout=30) as client:
        yield client


async def conversion(pool: asyncpg.Pool, cid: str) -> Any:
    return await pool.fetchrow("SELECT * FROM conversions WHERE conversion_id = $1::uuid", cid)
