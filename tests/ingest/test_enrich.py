"""Enrichment on real rows: agent, place (a GeoIP file built here), privacy of the address."""

from __future__ import annotations

import time
from pathlib import Path

import asyncpg
from redis.asyncio import Redis

from ingest.clicks.enrich import truncate_ip
from ingest.clicks.useragent import parse_agent
from ingest.worker import Worker
from loadtests.ingest.data import build_asn_db, build_geo_db
from tests.ingest.helpers import click, push, setup_offer
from tracker import redis_keys
from tracker.settings import Settings

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
DESKTOP = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html) x"


def test_addresses_are_truncated() -> None:
    assert truncate_ip("203.0.113.77") == "203.0.113.0"
    assert truncate_ip("2001:db8:1:2:3::9") == "2001:db8:1::"
    assert truncate_ip("::ffff:198.51.100.7") == "198.51.100.0"
    assert truncate_ip("999.1.1.1") is None and truncate_ip("nope") is None


def test_agents_give_device_os_browser() -> None:
    assert parse_agent(IPHONE)[:3] == ("mobile", "iOS", "Mobile Safari")
    assert parse_agent(DESKTOP)[:3] == ("desktop", "Windows", "Chrome")
    assert parse_agent(GOOGLEBOT).crawler and parse_agent(GOOGLEBOT).device == "bot"


async def test_clicks_are_enriched_and_the_full_address_is_never_stored(
    settings: Settings, pool: asyncpg.Pool, redis: Redis, tmp_path: Path
) -> None:
    settings.geoip_db = build_geo_db(tmp_path / "geo.mmdb")
    settings.asn_db = build_asn_db(tmp_path / "asn.mmdb", [
        ("10.1.0.0/16", 16509, "AMAZON-02"), ("10.2.0.0/16", 3320, "Deutsche Telekom AG"),
    ])  # fmt: skip
    offer, aff = await setup_offer(pool)
    clicks = [
        click(offer, aff, 1, ip="10.2.3.4", ua=IPHONE),
        click(offer, aff, 2, ip="10.2.3.4", ua=DESKTOP),
        # the redirect's class is kept: it decided the click's cap and unique slot
        click(offer, aff, 3, "bot", ip="10.1.9.9", ua=GOOGLEBOT, rule="flag:datacenter"),
        click(offer, aff, 4, ip="192.0.2.1", ua=DESKTOP, subs=["tab\there", "back\\slash\n"]),
    ]
    await push(redis, redis_keys.of(settings).click_streams()[0], clicks)
    await Worker(settings, pool, redis, consumer="w").run(burst=True)
    rows = await pool.fetch(
        "SELECT host(ip_trunc) AS ip, ip_hash, country, region, city, device, os, browser, "
        "click_class, sub1, sub2, asn, asn_org, datacenter, traffic_rule FROM clicks WHERE affiliate_id = $1 ORDER BY sub1",
        aff,
    )
    by_sub = {r["sub1"]: dict(r) for r in rows}
    iphone, desktop, bot, odd = by_sub["s1"], by_sub["s2"], by_sub["s3"], by_sub["tab\there"]
    assert (iphone["country"], iphone["region"], iphone["city"]) == ("DE", "BE", "Berlin")
    assert (iphone["device"], iphone["os"], iphone["browser"]) == ("mobile", "iOS", "Mobile Safari")
    assert iphone["ip"] == "10.2.3.0"
    assert iphone["ip_hash"] == desktop["ip_hash"] != bot["ip_hash"]  # same address, same day
    assert len(iphone["ip_hash"]) == 16
    assert (bot["click_class"], bot["device"], bot["country"]) == ("bot", "bot", "US")
    assert (odd["country"], odd["sub2"]) == ("", "back\\slash\n")  # escaped, stored as sent
    # the network: AS number and organisation, a hosting network flagged as a datacenter
    assert (iphone["asn"], iphone["asn_org"], iphone["datacenter"]) == (
        3320,
        "Deutsche Telekom AG",
        False,
    )
    assert (bot["asn"], bot["asn_org"], bot["datacenter"]) == (16509, "AMAZON-02", True)
    assert (odd["asn"], odd["asn_org"], odd["datacenter"]) == (None, "", False)
    assert (bot["traffic_rule"], iphone["traffic_rule"]) == ("flag:datacenter", None)
    stored = await pool.fetchval(
        "SELECT count(*) FROM clicks WHERE affiliate_id = $1 AND "
        "(host(ip_trunc) = '10.2.3.4' OR ip_trunc::text LIKE '%.4/%')",
        aff,
    )
    assert stored == 0


async def test_a_backlog_spanning_many_days_is_written(
    settings: Settings, pool: asyncpg.Pool, redis: Redis
) -> None:
    """One batch with clicks of 12 different days (a replayed backlog): every day's salt is
    at hand while the batch is enriched, though only 8 are kept between batches."""
    offer, aff = await setup_offer(pool)
    now = time.time()
    clicks = []
    for d in range(12):
        c = click(offer, aff, d)
        c["ts"] = now - (12 - d) * 86_400
        clicks.append(c)
    await push(redis, redis_keys.of(settings).click_streams()[0], clicks, per_entry=12)
    worker = Worker(settings, pool, redis, consumer="w")
    await worker.run(burst=True)
    days = await pool.fetchval(
        "SELECT count(DISTINCT created_at::date) FROM clicks WHERE affiliate_id = $1", aff
    )
    assert days == 12
