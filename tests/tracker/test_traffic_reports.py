"""The traffic-quality reports on known rows: blocked, datacenter and flagged clicks counted
apart from human ones; the click-to-conversion times in their buckets, with the median."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
from redis.asyncio import Redis

from ingest.worker import Worker
from loadtests.ingest.data import build_asn_db
from tests.conftest import create_world
from tests.ingest.helpers import click, push
from tracker import redis_keys
from tracker.settings import Settings


def _span() -> dict[str, str]:
    now = datetime.now(UTC)
    return {
        "from": (now - timedelta(days=1)).isoformat(),
        "to": (now + timedelta(hours=1)).isoformat(),
    }


async def test_traffic_report_counts_each_class_and_the_datacenter_and_flagged_ones(
    settings: Settings, api: httpx.AsyncClient, pool: asyncpg.Pool, redis: Redis, tmp_path: Path
) -> None:
    settings.asn_db = build_asn_db(tmp_path / "asn.mmdb", [("10.1.0.0/16", 14061, "DIGITALOCEAN")])
    w = await create_world(api)
    o, a = w["offer"]["id"], w["affiliate"]["id"]
    clicks = [
        click(o, a, 1, ip="10.2.0.1"),  # human, unique
        click(o, a, 2, ip="10.2.0.1", ua="Mozilla/5.0 v1"),  # the same visitor: not unique
        click(o, a, 3, ip="10.1.0.1", rule="flag:datacenter#1"),  # human, datacenter, flagged
        click(o, a, 4, "bot", ip="10.1.0.2"),  # a bot from a datacenter
        click(o, a, 5, "preview", ip="10.2.0.5"),
        click(o, a, 6, "prefetch", ip="10.2.0.6"),
        click(o, a, 7, "blocked", ip="10.2.0.7", rule="ip#9"),
        click(o, a, 8, "blocked", ip="10.1.0.3", rule="datacenter#9"),
        click(o, a, 9, "head", ip="10.2.0.9"),  # not a click
    ]
    await push(redis, redis_keys.of(settings).click_streams()[0], clicks)
    await Worker(settings, pool, redis, consumer="t").run(burst=True)
    r = await api.get("/api/v1/reports/traffic",
                      params={**_span(), "affiliate_id": a, "group_by": "offer,partner"})  # fmt: skip
    assert r.status_code == 200, r.text
    [row] = r.json()["rows"]
    expected = {"offer_id": o, "affiliate_id": a, "day": None, "gross": 8, "human": 3,
                "unique": 2, "bot": 1, "preview": 1, "prefetch": 1, "blocked": 2,
                "datacenter": 3, "flagged": 1}  # fmt: skip
    assert row == expected
    totals = r.json()["totals"]
    assert {k: totals[k] for k in ("gross", "human", "blocked")} == {
        "gross": 8,
        "human": 3,
        "blocked": 2,
    }
    by_day = await api.get("/api/v1/reports/traffic",
                           params={**_span(), "affiliate_id": a, "group_by": "day", "tz": "Asia/Kolkata"})  # fmt: skip
    assert sum(x["gross"] for x in by_day.json()["rows"]) == 8
    bad = await api.get("/api/v1/reports/traffic", params={"tz": "Mars/Base"})
    assert (bad.status_code, bad.json()["error"]["field"]) == (422, "tz")
    bad = await api.get("/api/v1/reports/traffic", params={"group_by": "offer,offer"})
    assert (bad.status_code, bad.json()["error"]["field"]) == (422, "group_by")


async def test_ctit_buckets_and_median(api: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    w = await create_world(api)
    adv, o, a = w["advertiser"]["id"], w["offer"]["id"], w["affiliate"]["id"]
    now = datetime.now(UTC) - timedelta(minutes=5)
    seconds = [3, 5, 45, 7200, 172800, 3456000]  # <10s twice, 30s-1m, 1h-6h, 1d-3d, >30d
    for n, s in enumerate([*seconds, None]):  # the last: a conversion without a click
        await pool.execute(
            """INSERT INTO conversions (conversion_id, advertiser_id, txn_id, click_id, click_at,
                                        offer_id, affiliate_id, status, created_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, 'approved', $8)""",
            uuid.uuid4(), adv, f"ctit-{n}", uuid.uuid4() if s is not None else None,
            now - timedelta(seconds=s) if s is not None else None, o, a, now,
        )  # fmt: skip
    r = await api.get("/api/v1/reports/ctit", params={**_span(), "affiliate_id": a})
    assert r.status_code == 200, r.text
    [row] = r.json()["rows"]
    assert (row["offer_id"], row["affiliate_id"], row["conversions"]) == (o, a, 6)
    assert row["median_seconds"] == (45 + 7200) / 2
    counts = {b["bucket"]: b["conversions"] for b in row["buckets"]}
    assert counts == {"<10s": 2, "10s-30s": 0, "30s-1m": 1, "1m-5m": 0, "5m-30m": 0,
                      "30m-1h": 0, "1h-6h": 1, "6h-24h": 0, "1d-3d": 1, "3d-7d": 0,
                      "7d-30d": 0, ">30d": 1}  # fmt: skip
    assert row["buckets"][-1]["up_to_seconds"] is None and row["buckets"][0]["up_to_seconds"] == 10
