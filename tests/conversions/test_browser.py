"""Browser conversions through the real worker (issue 18): the same path as a postback
(attribution, partner postbacks), stored pending with the origin and user agent, one
conversion per order with the merchant's postbacks, the origin checked against the offer
the conversion goes to."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx

from tests.browser_world import browser_world, click, stored
from tests.conversions.conftest import burst, make
from tracker.settings import Settings

SHOP = "http://shop.localhost:8080"
UA = "Mozilla/5.0 (X11; Linux x86_64) browser-test"


async def _send(service: str, offer_id: int, body: dict[str, Any],
                origin: str = SHOP) -> httpx.Response:  # fmt: skip
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(f"{service}/sdk/offers/{offer_id}/conversions", json=body,
                               headers={"Origin": origin, "User-Agent": UA})  # fmt: skip


async def _lookup(api: httpx.AsyncClient, adv: int, txn: str) -> dict[str, Any]:
    r = await api.get("/api/v1/conversions/lookup", params={"advertiser_id": adv, "txn_id": txn})
    assert r.status_code == 200, r.text
    [found] = r.json()["items"]  # one goal: one conversion
    return dict(found)


async def test_browser_conversion_is_attributed_pending_and_the_postback_approves_it(
    settings: Settings, service: str, api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    w = await browser_world(api, [SHOP])
    adv, aff, offer = w["advertiser"], w["affiliate"], w["offer"]
    await make(api, "/api/v1/partner-postbacks", {"affiliate_id": aff["id"],
                                                  "url_template": "https://p.example/pb?t={txn_id}"})  # fmt: skip
    cid = await click(service, w["link"]["code"])
    await asyncio.sleep(0.05)
    r = await _send(service, offer["id"], {"order_id": "B-1", "amount": "49.90", "click_id": cid})
    assert r.status_code == 202, r.text
    conv_id = r.json()["id"]
    await burst(settings)

    c = await _lookup(api, adv["id"], "B-1")
    assert c["conversion_id"] == conv_id
    assert (c["status"], c["affiliate_id"], c["offer_id"], c["click_id"]) == (
        "pending", aff["id"], offer["id"], cid)  # fmt: skip
    assert (c["amount"], c["currency"], c["payout"], c["revenue"]) == (
        "49.9000", "USD", "2.5000", "4.0000")  # fmt: skip
    assert c["method"] == "sdk"  # how the click id came: the first-party SDK
    assert c["decision"]["browser"] == {"origin": SHOP, "user_agent": UA}
    assert c["decision"]["attribution"]["method"] == "sdk"
    assert [(h["to_status"], h["actor"]) for h in c["history"]] == [("pending", "browser")]
    outbox = await pool.fetch("SELECT event FROM postback_outbox WHERE conversion_id = $1::uuid",
                              conv_id)  # fmt: skip
    assert [o["event"] for o in outbox] == ["created"]  # the partner hears of it as of any

    # The merchant's server confirms the order: the same conversion, approved.
    async with httpx.AsyncClient(base_url=service, timeout=10) as http:
        pb = await http.get("/postback", params={"advertiser_id": adv["id"], "txn_id": "B-1",
                                                 "token": adv["postback_token"], "amount": "49.90"})  # fmt: skip
    assert pb.status_code == 202 and pb.json()["conversion_id"] == conv_id
    await burst(settings)
    c = await _lookup(api, adv["id"], "B-1")
    assert c["status"] == "approved" and c["affiliate_id"] == aff["id"]
    assert [(h["from_status"], h["to_status"], h["actor"]) for h in c["history"]] == [
        (None, "pending", "browser"), ("pending", "approved", "postback")]  # fmt: skip
    assert len(await stored(pool, adv["id"], "B-1")) == 1

    # The thank-you page reloaded later: the stored conversion, nothing queued.
    again = await _send(
        service, offer["id"], {"order_id": "B-1", "amount": "49.90", "click_id": cid}
    )
    assert again.status_code == 200
    assert again.json() == {"id": conv_id, "status": "approved", "duplicate": True}


async def test_postback_first_then_the_browser_is_a_repeat(
    settings: Settings, service: str, api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    w = await browser_world(api, [SHOP])
    adv, offer = w["advertiser"], w["offer"]
    cid = await click(service, w["link"]["code"])
    async with httpx.AsyncClient(base_url=service, timeout=10) as http:
        pb = await http.get("/postback", params={"advertiser_id": adv["id"], "txn_id": "B-2",
                                                 "click_id": cid, "token": adv["postback_token"]})  # fmt: skip
    assert pb.status_code == 202
    await burst(settings)
    r = await _send(service, offer["id"], {"order_id": "B-2", "amount": "5", "click_id": cid})
    assert r.status_code == 200, r.text
    assert r.json() == {"id": pb.json()["conversion_id"], "status": "approved", "duplicate": True}
    [row] = await stored(pool, adv["id"], "B-2")
    assert (row["status"], row["method"]) == ("approved", "click_id")


async def test_the_origin_must_be_listed_by_the_offer_the_conversion_goes_to(
    settings: Settings, service: str, api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    w = await browser_world(api, [SHOP])
    adv, aff = w["advertiser"], w["affiliate"]
    other = await make(api, "/api/v1/offers", {  # same advertiser, takes no browser conversions
        "advertiser_id": adv["id"], "name": "Other", "default_payout": "1",
        "landing_url": "https://shop.example/o?click_id={click_id}"})  # fmt: skip
    link = await make(api, "/api/v1/links", {"offer_id": other["id"], "affiliate_id": aff["id"]})
    early = await click(service, link["code"])
    # Not in Postgres yet: the intake cannot see its offer, the worker can.
    r = await _send(service, w["offer"]["id"], {"order_id": "B-3", "click_id": early})
    assert r.status_code == 202, r.text
    await burst(settings)
    c = await _lookup(api, adv["id"], "B-3")
    assert (c["status"], c["status_reason"]) == ("rejected", "origin_not_allowed")
    assert c["payout"] == "0.0000"
    # Once the click is stored the intake refuses at once, and stores nothing.
    late = await _send(service, w["offer"]["id"], {"order_id": "B-4", "click_id": early})
    assert late.status_code == 403 and late.json()["error"]["code"] == "origin_not_allowed"
    await burst(settings)
    assert await stored(pool, adv["id"], "B-4") == []


async def test_promo_code_without_click_id_and_another_advertisers_click(
    settings: Settings, service: str, api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    w = await browser_world(api, [SHOP])
    adv, aff, offer = w["advertiser"], w["affiliate"], w["offer"]
    await make(api, "/api/v1/promo-codes", {"offer_id": offer["id"], "affiliate_id": aff["id"],
                                            "code": "SPRING"})  # fmt: skip
    r = await _send(
        service, offer["id"], {"order_id": "B-5", "amount": "20", "promo_code": "spring"}
    )
    assert r.status_code == 202, r.text
    none = await _send(service, offer["id"], {"order_id": "B-6", "amount": "20"})
    assert none.status_code == 202, none.text
    stranger = await browser_world(api, [SHOP])
    foreign = await click(service, stranger["link"]["code"])
    await asyncio.sleep(0.05)
    await burst(settings)
    c = await _lookup(api, adv["id"], "B-5")
    assert (c["status"], c["affiliate_id"], c["method"], c["coupon"]) == (
        "pending", aff["id"], "promo_code", "SPRING")  # fmt: skip
    n = await _lookup(api, adv["id"], "B-6")  # like a postback with neither: not attributed
    assert (n["status"], n["affiliate_id"], n["method"]) == ("rejected", None, "none")
    # Another advertiser's stored click reads as unknown, and nothing is stored.
    x = await _send(service, offer["id"], {"order_id": "B-7", "click_id": foreign})
    assert x.status_code == 422 and x.json()["error"]["code"] == "unknown_click"
    await burst(settings)
    assert await stored(pool, adv["id"], "B-7") == []
