"""The referer's host: what the worker writes (ingest.clicks.rows.referer_domain) equals what
migration 0070's SQL function back-filled older clicks with, and reaches both tables."""

from __future__ import annotations

import asyncpg
from redis.asyncio import Redis

from ingest.clicks.parse import parse_wire
from ingest.clicks.rows import referer_domain
from ingest.worker import Worker
from tests.ingest.helpers import click, setup_offer
from tests.ingest.test_prepare import _entries
from tracker.settings import Settings

CASES = {
    "https://News.Example.com/a?b=1": "news.example.com",
    "http://blog.example.org:8080/x": "blog.example.org",
    "https://x.example": "x.example",
    "https://x.example?q": "x.example",
    "https://x.example#f": "x.example",
    "android-app://com.example.app/": "com.example.app",
    "https://user:pw@Forum.Example.net/t#c": "forum.example.net",
    "https://a@b@c.example/": None,  # two user infos: not a URL we can read
    "HTTPS://WWW.EXAMPLE.COM/": "www.example.com",
    "https://[2001:db8::1]/x": None,  # an address, not a domain
    "https://xn--bcher-kva.example/": "xn--bcher-kva.example",
    "https://bücher.example/": None,  # browsers send punycode
    "https://x.example\n": None,
    "//x.example/": None,
    "not a url": None,
    "https://": None,
    "ftp://files.example.com/": "files.example.com",
    "https://x.example/" + "a" * 2000: "x.example",
    "https://" + "a" * 254 + "/": None,
    "": None,
}


async def test_python_and_sql_read_the_same_host(pool: asyncpg.Pool) -> None:
    for referer, host in CASES.items():
        assert referer_domain(referer) == host, referer
        assert await pool.fetchval("SELECT referer_domain($1::text)", referer) == host, referer
    assert await pool.fetchval("SELECT referer_domain(NULL)") is None


async def test_clicks_and_impressions_store_the_host(
    settings: Settings, pool: asyncpg.Pool, redis: Redis
) -> None:
    offer, aff = await setup_offer(pool)
    worker = Worker(settings, pool, redis, consumer="t")
    events = [click(offer, aff, i, referer=r, kind=("click", "impression")[i % 2])
              for i, r in enumerate(CASES)]  # fmt: skip
    parsed = parse_wire(_entries(events))
    await worker.clicks.write(await worker.clicks.prepare(parsed.clicks, controls=parsed.controls))
    for table, key in (("clicks", "click_id"), ("impressions", "impression_id")):
        rows = await pool.fetch(f"SELECT {key}::text AS id, referer, referer_domain FROM {table}"
                                " WHERE offer_id = $1", offer)  # fmt: skip
        assert rows, table
        for r in rows:
            assert r["referer_domain"] == CASES[r["referer"] or ""], (table, r["referer"])
