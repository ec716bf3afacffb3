"""A postback end to end: intake → stream → worker → row, decision record, history, report."""

from __future__ import annotations

import asyncio
import time
import uuid
from decimal import Decimal

import asyncpg
import httpx
import orjson
from redis.asyncio import Redis

from tests.conversions.conftest import burst, clicks, make, world
from tracker import redis_keys
from tracker.settings import Settings


async def test_postback_before_its_click_reaches_postgres_is_attributed(
    settings: Settings, service: str, api: httpx.AsyncClient, http: httpx.AsyncClient
) -> None:
    w = await world(api)
    adv, aff, offer = w["advertiser"], w["affiliates"][0], w["offers"][0]
    code = w["links"][(offer["id"], aff["id"])]["code"]
    [cid] = await clicks(service, code, 1)
    # At once: the click is still in the redirect's batch or on the stream.
    r = await http.get("/postback", params={"advertiser_id": adv["id"], "token": adv["postback_token"],
                                            "click_id": cid, "txn_id": "o-1", "amount": "10.00"})  # fmt: skip
    assert r.status_code == 202, r.text
    conv_id = r.json()["conversion_id"]
    await asyncio.sleep(0.05)
    await burst(settings)
    c = (await api.get(f"/api/v1/conversions/{conv_id}")).json()
    assert c["status"] == "approved", c
    assert c["affiliate_id"] == aff["id"] and c["click_id"] == cid
    assert c["payout"] == "2.5000" and c["revenue"] == "4.0000"
    d = c["decision"]
    assert d["attribution"]["method"] == "click_id" and d["attribution"]["click_id"] == cid
    assert d["attribution"]["window_days"] == 30
    assert d["payout_rule"] == "offer_default (cpa)"
    assert [h["to_status"] for h in c["history"]] == ["approved"]

    # The same postback again: 200, same id, the stored status, nothing queued.
    again = await http.post("/postback", json={"advertiser_id": adv["id"], "token": adv["postback_token"],
                                               "click_id": cid, "txn_id": "o-1", "amount": "10.00"})  # fmt: skip
    assert again.status_code == 200 and again.json() == {
        "conversion_id": conv_id, "status": "approved", "duplicate": True}  # fmt: skip

    # A refund through the postback: history and report follow.
    rev = await http.post("/postback", data={"advertiser_id": str(adv["id"]), "token": adv["postback_token"],
                                             "click_id": cid, "txn_id": "o-1", "status": "refund"})  # fmt: skip
    assert rev.status_code == 202 and rev.json()["conversion_id"] == conv_id
    await burst(settings)
    c = (await api.get(f"/api/v1/conversions/{conv_id}")).json()
    assert c["status"] == "reversed"
    assert [(h["from_status"], h["to_status"], h["actor"]) for h in c["history"]] == [
        (None, "approved", "postback"), ("approved", "reversed", "postback")]  # fmt: skip
    rep = (await api.get("/api/v1/reports", params={"group_by": "offer"})).json()
    row = next(x for x in rep["rows"] if x["key"] == offer["id"])
    assert row["conversions"] == 0 and Decimal(row["payout"]) == 0

    # Re-approved through the API, by whom and when.
    ok = await api.post(
        f"/api/v1/conversions/{conv_id}/status", json={"status": "approved", "reason": "checked"}
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["history"][-1]["actor"].startswith("api:key")
    rep = (await api.get("/api/v1/reports", params={"group_by": "offer"})).json()
    row = next(x for x in rep["rows"] if x["key"] == offer["id"])
    assert (
        row["conversions"] == 1
        and Decimal(row["payout"]) == Decimal("2.5")
        and Decimal(row["revenue"]) == 4
    )


async def test_aliases_of_other_trackers(
    settings: Settings,
    service: str,
    api: httpx.AsyncClient,
    http: httpx.AsyncClient,
    pool: asyncpg.Pool,
) -> None:
    w = await world(api)
    adv, aff, offer = w["advertiser"], w["affiliates"][0], w["offers"][0]
    await make(
        api,
        f"/api/v1/offers/{offer['id']}/goals/sale",
        {"payout_percent": "10", "multiple": True},
        "PUT",
    )
    code = w["links"][(offer["id"], aff["id"])]["code"]
    ids = await clicks(service, code, 3)
    tok = adv["postback_token"]
    answers = [
        await http.get("/aff_lsr", params={"transaction_id": ids[0], "amount": "20", "adv_sub": "H-1",
                                           "security_token": tok, "goal_id": "sale"}),
        await http.get("/postback", params={"cid": ids[1], "payout": "30", "txid": "V-1", "et": "sale",
                                            "token": tok}),
        await http.get("/postback", params={"transaction_id": ids[2], "amount": "40", "event_id": "sale",
                                            "order_id": "E-1", "coupon_code": "NONE", "token": tok}),
    ]  # fmt: skip
    assert [a.status_code for a in answers] == [202, 202, 202], [a.text for a in answers]
    await burst(settings)
    rows = await pool.fetch(
        "SELECT txn_id, payout, click_id::text FROM conversions WHERE advertiser_id = $1 ORDER BY txn_id",
        adv["id"],
    )
    assert [(r["txn_id"], str(r["payout"]), r["click_id"]) for r in rows] == [
        ("E-1", "4.0000", ids[2]), ("H-1", "2.0000", ids[0]), ("V-1", "3.0000", ids[1])]  # fmt: skip


async def test_a_conversion_that_cannot_be_stored_is_set_aside_not_its_batch(
    settings: Settings, service: str, api: httpx.AsyncClient, pool: asyncpg.Pool, redis: Redis
) -> None:
    w = await world(api)
    adv = w["advertiser"]
    stream = redis_keys.of(settings).conversion_streams()[0]
    for txn, amount in (("ok-1", "5"), ("huge", "1e20"), ("ok-2", "6")):  # 1e20 > numeric(18,4)
        ev = {"conversion_id": str(uuid.uuid4()), "ts": time.time(), "advertiser_id": adv["id"],
              "txn_id": txn, "amount": amount, "coupon": "none"}  # fmt: skip
        await redis.xadd(stream, {"conversion": orjson.dumps(ev)})
    await burst(settings)
    rows = await pool.fetch(
        "SELECT txn_id FROM conversions WHERE advertiser_id = $1 ORDER BY 1", adv["id"]
    )
    assert [r["txn_id"] for r in rows] == ["ok-1", "ok-2"]
    [(_, dead)] = await redis.xrange(redis_keys.of(settings).dead_letter_stream())
    assert dead[b"source"] == b"conversions" and dead[b"reason"].startswith(b"unstorable:")
    assert not (await redis.xpending(stream, "ingest"))["pending"]  # every entry acknowledged


async def test_json_numbers_are_read_exactly(
    settings: Settings,
    service: str,
    api: httpx.AsyncClient,
    http: httpx.AsyncClient,
    pool: asyncpg.Pool,
) -> None:
    w = await world(api)
    adv = w["advertiser"]
    body = b'{"advertiser_id": %d, "token": "%s", "txn_id": "j1", "amount": 0.1000000000000000055511151231257827}' % (
        adv["id"], adv["postback_token"].encode())  # fmt: skip
    r = await http.post("/postback", content=body, headers={"Content-Type": "application/json"})
    assert (
        r.status_code == 422 and r.json()["error"]["field"] == "amount"
    )  # > 4 places: refused, not rounded
    body = body.replace(b"0.1000000000000000055511151231257827", b"19.99")
    assert (
        await http.post("/postback", content=body, headers={"Content-Type": "application/json"})
    ).status_code == 202
    bad = await http.post(
        "/postback", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "malformed_json"
    await burst(settings)
    assert (
        str(
            await pool.fetchval(
                "SELECT amount FROM conversions WHERE advertiser_id = $1", adv["id"]
            )
        )
        == "19.9900"
    )


async def test_tenants_see_and_change_only_their_conversions(
    settings: Settings,
    service: str,
    api: httpx.AsyncClient,
    http: httpx.AsyncClient,
    pool: asyncpg.Pool,
) -> None:
    from tracker.store.keys import create_key

    w, other = await world(api), await world(api)
    adv, aff = w["advertiser"], w["affiliates"][0]
    [cid] = await clicks(service, w["links"][(w["offers"][0]["id"], aff["id"])]["code"], 1)
    r = await http.get("/postback", params={"advertiser_id": adv["id"], "token": adv["postback_token"],
                                            "click_id": cid, "txn_id": "t", "amount": "10"})  # fmt: skip
    conv = r.json()["conversion_id"]
    await burst(settings)
    keys = {
        "adv": (await create_key(pool, "advertiser", advertiser_id=adv["id"])).token,
        "other": (
            await create_key(pool, "advertiser", advertiser_id=other["advertiser"]["id"])
        ).token,
        "aff": (await create_key(pool, "affiliate", affiliate_id=aff["id"])).token,
    }

    def as_(k: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {keys[k]}"}

    seen = (await http.get(f"/api/v1/conversions/{conv}", headers=as_("aff"))).json()
    assert (
        seen["payout"] == "2.5000"
        and seen["revenue"] is None
        and "revenue_rule" not in seen["decision"]
    )
    assert (await http.get(f"/api/v1/conversions/{conv}", headers=as_("other"))).status_code == 404
    listed = (await http.get("/api/v1/conversions", headers=as_("other"))).json()
    assert conv not in {c["conversion_id"] for c in listed["items"]}
    body = {"status": "rejected", "reason": "test order"}
    assert (
        await http.post(f"/api/v1/conversions/{conv}/status", json=body, headers=as_("aff"))
    ).status_code == 403
    assert (
        await http.post(f"/api/v1/conversions/{conv}/status", json=body, headers=as_("other"))
    ).status_code == 404
    done = await http.post(f"/api/v1/conversions/{conv}/status", json=body, headers=as_("adv"))
    assert done.status_code == 200 and done.json()["status"] == "rejected"
    assert done.json()["history"][-1]["reason"] == "test order"
