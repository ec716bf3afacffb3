"""The whole flow against real servers: API → redirect → stream → worker → report."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx

from tests.conftest import create_world
from tests.servers import ingest_burst
from tracker.settings import Settings


async def _burst(settings: Settings) -> None:
    await ingest_burst(settings)


async def _click_ids(service: str, code: str, n: int, concurrency: int = 20) -> list[str]:
    ids: list[str] = []
    async with httpx.AsyncClient(base_url=service, timeout=10) as http:

        async def one(i: int) -> None:
            r = await http.get(f"/c/{code}", params={"sub1": f"s{i % 7}", "sub2": "x y&z"},
                               headers={"User-Agent": f"Mozilla/5.0 test {i}"})  # fmt: skip
            assert r.status_code == 302
            loc = urlsplit(r.headers["location"])
            assert loc.netloc == "shop.example"
            q = parse_qs(loc.query)
            assert q["s1"] == [f"s{i % 7}"] and q["s2"] == ["x y&z"]
            ids.append(q["cid"][0])

        sem = asyncio.Semaphore(concurrency)

        async def guarded(i: int) -> None:
            async with sem:
                await one(i)

        await asyncio.gather(*(guarded(i) for i in range(n)))
    return ids


async def test_thousand_clicks_reach_the_report(
    settings: Settings, service: str, api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    world = await create_world(api)
    link, aff = world["link"], world["affiliate"]
    assert link["url"].endswith(f"/c/{link['code']}")
    ids = await _click_ids(service, link["code"], 1000)
    assert len(set(ids)) == 1000
    await asyncio.sleep(0.2)  # the sink flushes every few ms
    await _burst(settings)

    n = await pool.fetchval("SELECT count(*) FROM clicks WHERE affiliate_id = $1", aff["id"])
    assert n == 1000
    r = await api.get("/api/v1/reports", params={"group_by": "affiliate"})
    assert r.status_code == 200, r.text
    # other tests' offers may be in other currencies: rows may be split by currency
    rows = {row["group"]["partner"]: row for row in r.json()["rows"]}
    assert rows[aff["id"]]["gross_clicks"] == 1000
    assert rows[aff["id"]]["human_clicks"] == 1000
    # Each User-Agent is a different visitor: all unique.
    assert rows[aff["id"]]["unique_clicks"] == 1000

    # A click id taken from a Location header can be looked up.
    c = await api.get(f"/api/v1/clicks/{ids[123]}")
    assert c.status_code == 200, c.text
    body = c.json()
    assert body["affiliate_id"] == aff["id"] and body["link_code"] == link["code"]
    assert body["sub2"] == "x y&z"
    assert body["ip_trunc"] == "127.0.0.0"  # /24, never the full address


async def test_report_by_day_in_half_hour_zone_matches_raw_rows(
    settings: Settings, service: str, api: httpx.AsyncClient
) -> None:
    world = await create_world(api)
    await _click_ids(service, world["link"]["code"], 30)
    await asyncio.sleep(0.2)
    await _burst(settings)
    now = datetime.now(UTC)
    params = {
        "group_by": "day",
        "tz": "Asia/Kolkata",
        "from": (now - timedelta(days=2)).isoformat(),
        "to": (now + timedelta(hours=1)).isoformat(),
    }
    r = await api.get("/api/v1/reports", params=params)
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["source"] == "raw"
    assert data["totals"]["gross_clicks"] >= 30  # other tests' clicks count too: admin sees all
    local_today = now.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Kolkata")).date().isoformat()
    assert local_today in {row["group"]["day"] for row in data["rows"]}


async def test_postback_is_attributed_and_counted_once(
    settings: Settings, service: str, api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    world = await create_world(api)
    adv = world["advertiser"]
    [cid] = await _click_ids(service, world["link"]["code"], 1)
    await asyncio.sleep(0.1)
    await _burst(settings)
    params = {"advertiser_id": adv["id"], "token": adv["postback_token"], "click_id": cid,
              "txn_id": "order-9", "amount": "49.90"}  # fmt: skip
    answers = [await api.get("/postback", params=params) for _ in range(3)]
    assert [a.status_code for a in answers] == [202, 200, 200]  # a repeat answers 200
    assert len({a.json()["conversion_id"] for a in answers}) == 1
    await _burst(settings)
    rows = await pool.fetch("SELECT * FROM conversions WHERE advertiser_id = $1", adv["id"])
    assert len(rows) == 1
    assert rows[0]["affiliate_id"] == world["affiliate"]["id"]
    assert str(rows[0]["amount"]) == "49.9000" and str(rows[0]["payout"]) == "2.5000"
    r = await api.get("/api/v1/reports", params={"group_by": "offer"})
    row = next(x for x in r.json()["rows"] if x["group"]["offer"] == world["offer"]["id"])
    assert row["conversions"] == 1 and row["payout"] == "2.5000" and row["revenue"] == "4.0000"

    bad = await api.get("/postback", params={**params, "token": "wrong-token-123"})
    assert bad.status_code == 401 and bad.json()["error"]["field"] == "token"
