"""Pixel conversions, fraud rules (shadow and enforce), currency without a rate, CPM accrual."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx

from tests.conversions.conftest import burst, clicks, make, world
from tracker.settings import Settings


async def test_pixel_reads_the_click_cookie(
    settings: Settings, service: str, api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    w = await world(api)
    adv, aff, offer = w["advertiser"], w["affiliates"][0], w["offers"][0]
    # The pixel is off unless the advertiser turns it on (issue 17); its conversions are
    # then approved only where the advertiser says so (default pending).
    await make(api, f"/api/v1/advertisers/{adv['id']}/postback-auth",
               {"allow_pixel": True, "pixel_status": "approved"}, "PUT")  # fmt: skip
    [cid] = await clicks(service, w["links"][(offer["id"], aff["id"])]["code"], 1)
    await burst(settings)  # a pixel converts a recorded click
    q = {
        "advertiser_id": adv["id"],
        "goal": "default",
        "amount": "15",
        "txn_id": "px-1",
        "status": "reversed",
    }
    async with httpx.AsyncClient(base_url=service, cookies={"trk_cid": cid}) as browser:
        r = await browser.get("/pixel", params=q)
    assert (
        r.status_code == 200
        and r.headers["content-type"] == "image/gif"
        and r.content[:6] == b"GIF89a"
    )
    async with httpx.AsyncClient(base_url=service) as no_cookie:
        r = await no_cookie.get("/pixel", params={**q, "txn_id": "px-2"})
    assert r.status_code == 200 and r.content[:6] == b"GIF89a"
    await burst(settings)
    rows = await pool.fetch("SELECT txn_id, status, method, affiliate_id, payout FROM conversions"
                            " WHERE advertiser_id = $1", adv["id"])  # fmt: skip
    assert [(r["txn_id"], r["status"], r["method"], r["affiliate_id"], str(r["payout"])) for r in rows] == [
        ("px-1", "approved", "cookie", aff["id"], "2.5000")]  # fmt: skip
    hist = await pool.fetch("SELECT actor FROM conversion_status_history h JOIN conversions c"
                            " USING (conversion_id) WHERE c.advertiser_id = $1", adv["id"])  # fmt: skip
    assert [h["actor"] for h in hist] == ["pixel"]


async def test_fraud_rules_flag_in_shadow_and_reject_when_enforced(
    settings: Settings,
    service: str,
    api: httpx.AsyncClient,
    http: httpx.AsyncClient,
    pool: asyncpg.Pool,
) -> None:
    w = await world(api)
    adv, aff, offer = w["advertiser"], w["affiliates"][0], w["offers"][0]
    o = offer["id"]
    rules = {"require_click": True, "duplicate_txn": True, "max_conversions_per_ip": 3,
             "max_clicks_per_sub_hour": 5, "fraud_mode": "shadow"}  # fmt: skip
    await make(api, f"/api/v1/offers/{o}/conversion-settings", rules, "PUT")
    for g in ("sale", "lead"):
        await make(api, f"/api/v1/offers/{o}/goals/{g}", {"payout_flat": "1"}, "PUT")
    await make(api, "/api/v1/promo-codes", {"offer_id": o, "affiliate_id": aff["id"], "code": "C1"})
    code = w["links"][(o, aff["id"])]["code"]
    plain = await clicks(service, code, 4, ua="plain")
    flood = await clicks(service, code, 10, ua="flood", sub1="flooded")
    await burst(settings)
    tok = {"advertiser_id": adv["id"], "token": adv["postback_token"]}
    sends = [
        {"click_id": plain[0], "goal": "sale", "txn_id": "A"},
        {"click_id": plain[1], "goal": "lead", "txn_id": "A"},  # same txn, another goal
        {"click_id": flood[9], "goal": "sale", "txn_id": "B"},  # 10 clicks on sub1 in the hour
        {"coupon": "C1", "goal": "sale", "txn_id": "C"},  # no click at all
        {"click_id": plain[2], "goal": "sale", "txn_id": "D"},  # 4th conversion from one IP
    ]
    for s in sends:
        assert (await http.get("/postback", params={**tok, **s})).status_code == 202
    await burst(settings)

    async def flags(txn: str, goal: str = "sale") -> tuple[str, list[str]]:
        row = await pool.fetchrow("SELECT conversion_id FROM conversions WHERE advertiser_id = $1"
                                  " AND txn_id = $2 AND goal = $3", adv["id"], txn, goal)  # fmt: skip
        c = (await api.get(f"/api/v1/conversions/{row['conversion_id']}")).json()
        fired = [x["rule"] for x in c["decision"]["fraud"]["checks"] if x["outcome"] != "pass"]
        return c["status"], fired

    assert await flags("A") == ("approved", [])
    assert await flags("A", "lead") == ("approved", ["duplicate_txn"])
    assert await flags("B") == ("approved", ["click_flood"])
    assert await flags("C") == ("approved", ["no_click"])
    assert await flags("D") == ("approved", ["ip_velocity"])

    await make(
        api, f"/api/v1/offers/{o}/conversion-settings", {**rules, "fraud_mode": "enforce"}, "PUT"
    )
    assert (await http.get("/postback", params={**tok, "click_id": plain[3], "goal": "sale",
                                                "txn_id": "E"})).status_code == 202  # fmt: skip
    await burst(settings)
    row = await pool.fetchrow("SELECT status, status_reason FROM conversions WHERE advertiser_id = $1"
                              " AND txn_id = 'E'", adv["id"])  # fmt: skip
    assert (row["status"], row["status_reason"]) == ("rejected", "fraud:ip_velocity")


async def test_no_rate_holds_the_conversion(
    settings: Settings,
    service: str,
    api: httpx.AsyncClient,
    http: httpx.AsyncClient,
    pool: asyncpg.Pool,
) -> None:
    w = await world(api)
    adv, aff, offer = w["advertiser"], w["affiliates"][0], w["offers"][0]
    [cid] = await clicks(service, w["links"][(offer["id"], aff["id"])]["code"], 1)
    r = await http.get("/postback", params={"advertiser_id": adv["id"], "token": adv["postback_token"],
                                            "click_id": cid, "txn_id": "jp", "amount": "1000", "currency": "JPY"})  # fmt: skip
    assert r.status_code == 202
    await burst(settings)
    c = (await api.get(f"/api/v1/conversions/{r.json()['conversion_id']}")).json()
    assert (c["status"], c["status_reason"], c["amount"], c["currency"], c["payout"]) == (
        "held", "no_rate", "1000.0000", "JPY", "0.0000")  # fmt: skip
    assert c["decision"]["currency"] == {"amount": "1000", "from": "JPY", "to": "USD", "rate": None}


async def test_rules_read_back(api: httpx.AsyncClient) -> None:
    w = await world(api)
    o, a = w["offers"][0]["id"], w["affiliates"][0]["id"]
    await make(api, f"/api/v1/offers/{o}/payout-overrides", {"affiliate_id": a, "payout_flat": "3"})
    await make(
        api,
        f"/api/v1/offers/{o}/payout-tiers",
        {"metric": "revenue", "threshold": "100", "payout_flat": "4"},
    )
    await make(
        api, f"/api/v1/offers/{o}/caps", {"period": "month", "metric": "payout", "limit": "500"}
    )
    await make(
        api,
        "/api/v1/promo-codes",
        {"offer_id": o, "affiliate_id": a, "code": "X1", "payout_percent": "5"},
    )
    await make(
        api, "/api/v1/currency-rates", {"base": "CHF", "quote": "USD", "rate": "1.13"}, "PUT"
    )
    got = {p: (await api.get(f"/api/v1/offers/{o}/{p}")).json()["items"]
           for p in ("payout-overrides", "payout-tiers", "caps", "promo-codes")}  # fmt: skip
    assert got["payout-overrides"][0]["payout_flat"] == "3.0000"
    assert got["payout-tiers"][0]["metric"] == "revenue"
    assert got["caps"][0]["limit"] == "500.0000" and got["caps"][0]["period"] == "month"
    assert got["promo-codes"][0]["code"] == "X1" and got["promo-codes"][0]["starts_at"] is None
    rates = (await api.get("/api/v1/currency-rates", params={"base": "CHF"})).json()["items"]
    assert any(r["base"] == "CHF" and r["rate"] == "1.1300000000" for r in rates)
    bad = await api.put(
        f"/api/v1/offers/{o}/conversion-settings", json={"timezone": "Mars/Olympus"}
    )
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "timezone"
    missing = await api.post("/api/v1/offers/999999/caps", json={"period": "day", "limit": "1"})
    assert missing.status_code == 404


async def test_cpm_and_cpc_reach_the_report_end_to_end(
    settings: Settings, service: str, api: httpx.AsyncClient
) -> None:
    """Real impression pixels and redirects → the worker → the rollup's pricing → the report."""
    w = await world(api)
    o, a = w["offers"][0]["id"], w["affiliates"][0]["id"]
    code = w["links"][(o, a)]["code"]
    await make(api, f"/api/v1/offers/{o}/conversion-settings",
               {"cpm_payout": "2.00", "cpm_revenue": "3.00", "cpc_basis": "gross_human",
                "cpc_payout": "0.10", "cpc_revenue": "0.25"}, "PUT")  # fmt: skip
    ua = {
        "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/130.0 Safari/537.36"
    }
    async with httpx.AsyncClient(base_url=service, timeout=10, headers=ua) as http:
        for _ in range(250):
            r = await http.get(f"/i/{code}")
            assert r.status_code == 200 and r.headers["content-type"] == "image/gif"
        for _ in range(4):
            assert (await http.get(f"/c/{code}")).status_code == 302
    await asyncio.sleep(0.2)
    await burst(settings)
    r = await api.get("/api/v1/reports", params={"group_by": "offer"})
    row = next(x for x in r.json()["rows"] if x["group"]["offer"] == o)
    assert row["human_clicks"] == 4
    # 250 impressions at 2.00/3.00 per thousand + 4 human clicks at 0.10/0.25
    assert (row["payout"], row["revenue"]) == ("0.9000", "1.7500")
