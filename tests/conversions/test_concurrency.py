"""Parallel postbacks: one conversion per id, and caps that never overshoot."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx
from redis.asyncio import Redis

from tests.conversions.conftest import burst, clicks, make, world
from tracker import redis_keys
from tracker.settings import Settings


async def test_fifty_identical_postbacks_make_one_conversion(
    settings: Settings, service: str, api: httpx.AsyncClient, pool: asyncpg.Pool, redis: Redis
) -> None:
    w = await world(api)
    adv, aff, offer = w["advertiser"], w["affiliates"][0], w["offers"][0]
    [cid] = await clicks(service, w["links"][(offer["id"], aff["id"])]["code"], 1)
    params = {"advertiser_id": adv["id"], "token": adv["postback_token"], "click_id": cid,
              "txn_id": "same", "amount": "12.34"}  # fmt: skip
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(base_url=service, timeout=30, limits=limits) as http:
        answers = await asyncio.gather(*(http.get("/postback", params=params) for _ in range(50)))
    assert sorted(a.status_code for a in answers) == [200] * 49 + [202]
    assert len({a.json()["conversion_id"] for a in answers}) == 1
    # Even if the stream carried the same postback many times, parallel workers store it once.
    stream = redis_keys.of(settings).conversion_streams()[0]
    [(_, fields)] = await redis.xrange(stream)
    for _ in range(49):
        await redis.xadd(stream, fields)
    await burst(settings, workers=4)
    rows = await pool.fetch("SELECT conversion_id, status FROM conversions WHERE advertiser_id = $1",
                            adv["id"])  # fmt: skip
    assert [(str(r["conversion_id"]), r["status"]) for r in rows] == [
        (answers[0].json()["conversion_id"], "approved")
    ]
    hist = await pool.fetchval("SELECT count(*) FROM conversion_status_history WHERE conversion_id = $1",
                               rows[0]["conversion_id"])  # fmt: skip
    assert hist == 1
    rollup = await pool.fetchval(
        "SELECT sum(approved) FROM rollup_spans WHERE span = 900 AND offer_id = $1", offer["id"]
    )
    assert rollup == 1


async def test_two_hundred_parallel_postbacks_against_a_cap_of_one_hundred(
    settings: Settings, service: str, api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    w = await world(api, partners=2)
    adv, offer = w["advertiser"], w["offers"][0]
    a1, a2 = w["affiliates"]
    await make(api, f"/api/v1/offers/{offer['id']}/caps", {"period": "day", "limit": "100"})
    # And a payout cap for one partner: 30 x 2.50 = 75.00.
    await make(api, f"/api/v1/offers/{offer['id']}/caps",
               {"affiliate_id": a2["id"], "period": "total", "metric": "payout", "limit": "75"})  # fmt: skip
    ids = await clicks(service, w["links"][(offer["id"], a1["id"])]["code"], 150)
    ids += await clicks(service, w["links"][(offer["id"], a2["id"])]["code"], 50)
    await asyncio.sleep(0.1)
    await burst(settings)  # clicks in Postgres first: this test is about the cap only
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(base_url=service, timeout=30, limits=limits) as http:
        answers = await asyncio.gather(*(
            http.get("/postback", params={"advertiser_id": adv["id"], "token": adv["postback_token"],
                                          "click_id": c, "txn_id": f"t{i}"})
            for i, c in enumerate(ids)))  # fmt: skip
    assert {a.status_code for a in answers} == {202}
    await burst(settings, workers=4)
    rows = await pool.fetch(
        "SELECT affiliate_id, status, status_reason, payout FROM conversions WHERE advertiser_id = $1",
        adv["id"],
    )
    assert len(rows) == 200
    approved = [r for r in rows if r["status"] == "approved"]
    assert len(approved) == 100
    assert {(r["status"], r["status_reason"]) for r in rows if r["status"] != "approved"} == {
        ("rejected", "cap")
    }
    assert len([r for r in approved if r["affiliate_id"] == a2["id"]]) <= 30
    used = await pool.fetch(
        "SELECT c.metric, u.used FROM cap_usage u JOIN conversion_caps c ON c.id = u.cap_id WHERE c.offer_id = $1",
        offer["id"],
    )
    by_metric = {r["metric"]: r["used"] for r in used}
    assert by_metric["conversions"] == 100
    assert by_metric.get("payout", 0) <= 75  # no row when the day cap refused every partner-2 sale
    assert uuid.UUID(answers[0].json()["conversion_id"])
