"""Held stays held, replays never move a status back, only an admin overrides the tracker
(docs/adr/0080): through the public API and the real worker."""

from __future__ import annotations

import time
from decimal import Decimal

import asyncpg
import httpx
import orjson
from redis.asyncio import Redis

from tests.conversions.conftest import burst, clicks, make, world
from tests.conversions.money import (
    advertiser_client,
    assert_rollup_exact,
    held_rollup,
    money,
    postback,
    read,
    report_row,
)
from tracker import redis_keys
from tracker.settings import Settings


async def test_a_full_cap_keeps_a_conversion_held_whatever_the_merchant_sends(
    settings: Settings, service: str, api: httpx.AsyncClient, http: httpx.AsyncClient,
    pool: asyncpg.Pool,
) -> None:  # fmt: skip
    w = await world(api)
    adv, aff, offer = w["advertiser"], w["affiliates"][0], w["offers"][0]
    oid = offer["id"]
    await make(api, f"/api/v1/offers/{oid}/conversion-settings", {"cap_action": "pending"}, "PUT")
    await make(api, f"/api/v1/offers/{oid}/caps", {"period": "day", "limit": "1"})
    c1, c2, c3 = await clicks(service, w["links"][(oid, aff["id"])]["code"], 3)
    a = (await postback(http, adv, click_id=c1, txn_id="a", amount="10")).json()["conversion_id"]
    await burst(settings)
    b = (await postback(http, adv, click_id=c2, txn_id="b", amount="10")).json()["conversion_id"]
    # first sent as rejected: screened all the same, so approving it later cannot skip the cap
    c = (await postback(http, adv, click_id=c3, txn_id="c", status="-1")).json()["conversion_id"]
    await burst(settings)
    assert [(x["status"], x["status_reason"]) for x in [await read(api, i) for i in (a, b, c)]] == [
        ("approved", None), ("held", "cap"), ("rejected", None)]  # fmt: skip
    # held: not pending payout, not a conversion; counted in the rollup's own column
    assert money(await report_row(api, oid)) == (1, Decimal("2.5"), Decimal(4))
    assert await held_rollup(pool, oid) == (1, 1, Decimal("2.5"))

    # The merchant approves, confirms, re-sends: the cap is full, it stays held.
    for status in ("approved", "1", "pending", "accepted"):
        await postback(http, adv, click_id=c2, txn_id="b", status=status)
        await burst(settings)
    held = await read(api, b)
    assert (held["status"], held["status_reason"], held["merchant_status"]) == (
        "held", "cap", "approved")  # fmt: skip
    # The advertiser's key approves through the API: the same gates, still held.
    async with await advertiser_client(service, pool, adv["id"]) as adv_api:
        for cid in (b, c):
            r = await adv_api.post(f"/api/v1/conversions/{cid}/status", json={"status": "approved"})
            assert r.status_code == 200 and r.json()["status"] == "held", r.text
        # Only an admin overrides; a full cap is refused even to an admin (never overshot).
        r = await adv_api.post(f"/api/v1/conversions/{b}/override",
                               json={"status": "approved", "reason": "vip"})  # fmt: skip
        assert r.status_code == 403
    r = await api.post(
        f"/api/v1/conversions/{b}/override", json={"status": "approved", "reason": "vip"}
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "cap_full", r.text
    assert await pool.fetchval(
        "SELECT sum(used) FROM cap_usage u JOIN conversion_caps c ON c.id = u.cap_id"
        " WHERE c.offer_id = $1", oid) == 1  # fmt: skip

    # The first is refunded: the slot is free; the next status change takes it, once.
    await postback(http, adv, txn_id="a", status="refund")
    await burst(settings)
    r = await api.post(
        f"/api/v1/conversions/{b}/override", json={"status": "approved", "reason": "slot freed"}
    )
    assert r.status_code == 200 and r.json()["status"] == "approved", r.text
    got = r.json()
    assert got["decision"]["overrides"][-1]["gate"] == "cap"
    assert got["decision"]["overrides"][-1]["reason"] == "slot freed"
    assert got["history"][-1]["actor"].startswith("api:key")
    assert got["history"][-1]["reason"] == "override: cap: slot freed"
    async with await advertiser_client(service, pool, adv["id"]) as adv_api:
        r = await adv_api.post(f"/api/v1/conversions/{c}/status", json={"status": "approved"})
        assert r.json()["status"] == "held"  # the cap is full again
    # a refunded conversion approved again by a postback: a replay, nothing moves
    await postback(http, adv, txn_id="a", status="approved")
    await burst(settings)
    assert (await read(api, a))["status"] == "reversed"
    counted = await pool.fetchval(
        "SELECT count(*) FROM conversions WHERE offer_id = $1 AND status IN ('pending', 'approved')",
        oid,
    )
    assert counted == 1
    assert money(await report_row(api, oid)) == (1, Decimal("2.5"), Decimal(4))
    await assert_rollup_exact(pool, [oid])  # held apart, each status's money too


async def test_fraud_holds_stand_and_only_an_admin_override_lifts_them(
    settings: Settings, service: str, api: httpx.AsyncClient, http: httpx.AsyncClient,
    pool: asyncpg.Pool,
) -> None:  # fmt: skip
    w = await world(api)
    adv, aff, offer = w["advertiser"], w["affiliates"][0], w["offers"][0]
    oid = offer["id"]
    await make(api, f"/api/v1/offers/{oid}/conversion-settings",
               {"min_click_seconds": 3600}, "PUT")  # fmt: skip
    c1, c2 = await clicks(service, w["links"][(oid, aff["id"])]["code"], 2)
    await burst(settings)
    f = (await postback(http, adv, click_id=c1, txn_id="f", status="pending")).json()
    g = (await postback(http, adv, click_id=c2, txn_id="g", status="rejected")).json()
    await burst(settings)
    assert (await read(api, f["conversion_id"]))["status_reason"] == "fraud:ctc_too_short"
    gr = await read(api, g["conversion_id"])
    assert (gr["status"], gr["decision"]["gate"]) == ("rejected", "fraud:ctc_too_short")
    await postback(http, adv, click_id=c1, txn_id="f", status="approved")
    await burst(settings)
    fr = await read(api, f["conversion_id"])
    assert (fr["status"], fr["status_reason"], fr["merchant_status"]) == (
        "rejected", "fraud:ctc_too_short", "approved")  # fmt: skip
    async with await advertiser_client(service, pool, adv["id"]) as adv_api:
        r = await adv_api.post(f"/api/v1/conversions/{g['conversion_id']}/status",
                               json={"status": "approved", "reason": "re-check"})  # fmt: skip
        assert (r.json()["status"], r.json()["status_reason"]) == (
            "rejected",
            "fraud:ctc_too_short",
        )
    assert money(await report_row(api, oid))[0] == 0
    # nothing the tracker decided: nothing to override
    r = await api.post(f"/api/v1/conversions/{f['conversion_id']}/override",
                       json={"status": "approved", "reason": ""})  # fmt: skip
    assert r.status_code == 422 and r.json()["error"]["field"] == "reason"
    r = await api.post(f"/api/v1/conversions/{f['conversion_id']}/override",
                       json={"status": "approved", "reason": "known customer"})  # fmt: skip
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["status"], out["payout"], out["decision"]["gate"]) == ("approved", "2.5000", None)
    assert out["decision"]["overrides"] == [
        {**out["decision"]["overrides"][0], "gate": "fraud:ctc_too_short", "status": "approved",
         "reason": "known customer"}]  # fmt: skip
    assert money(await report_row(api, oid)) == (1, Decimal("2.5"), Decimal(4))
    # and then the merchant's later word still counts: a refund reverses it
    await postback(http, adv, click_id=c1, txn_id="f", status="chargeback")
    await burst(settings)
    assert (await read(api, f["conversion_id"]))["status"] == "reversed"
    r = await api.post(f"/api/v1/conversions/{f['conversion_id']}/override",
                       json={"status": "approved", "reason": "again"})  # fmt: skip
    assert r.status_code == 409 and r.json()["error"]["code"] == "nothing_to_override"
    await assert_rollup_exact(pool, [oid])


async def test_a_replayed_postback_never_moves_a_status_back(
    settings: Settings, service: str, api: httpx.AsyncClient, http: httpx.AsyncClient,
    redis: Redis, pool: asyncpg.Pool,
) -> None:  # fmt: skip
    w = await world(api)
    adv, aff, offer = w["advertiser"], w["affiliates"][0], w["offers"][0]
    [c1] = await clicks(service, w["links"][(offer["id"], aff["id"])]["code"], 1)
    first = {"click_id": c1, "txn_id": "r", "amount": "10"}
    cid = (await postback(http, adv, **first)).json()["conversion_id"]
    await burst(settings)
    await postback(http, adv, txn_id="r", status="rejected")
    await burst(settings)
    # The first postback again (a replay: same parameters, a new arrival time) and an
    # approval: a rejected sale stays rejected for postbacks.
    again = await postback(http, adv, **first)
    assert again.status_code == 202  # queued: the last status remembered was "rejected"
    await postback(http, adv, txn_id="r", status="1")
    await burst(settings)
    got = await read(api, cid)
    assert (got["status"], got["merchant_status"]) == ("rejected", "rejected")
    # Whatever the transport: the same entry written again to the stream, and an entry
    # that arrived before the last change applied (re-queued late) change nothing either.
    stream = redis_keys.of(settings).conversion_streams()[0]
    base = {"conversion_id": cid, "advertiser_id": adv["id"], "txn_id": "r", "click_id": c1}
    await redis.xadd(
        stream, {"conversion": orjson.dumps({**base, "ts": time.time(), "status": "approved"})}
    )
    await redis.xadd(stream, {"conversion": orjson.dumps(
        {**base, "ts": time.time() - 3600, "status": "reversed"})})  # fmt: skip
    await burst(settings)
    got = await read(api, cid)
    assert [(h["from_status"], h["to_status"]) for h in got["history"]] == [
        (None, "approved"), ("approved", "rejected")]  # fmt: skip
    # The advertiser may undo a final status through the API (it goes through the gates).
    ok = await api.post(f"/api/v1/conversions/{cid}/status", json={"status": "approved"})
    assert ok.json()["status"] == "approved"
    await assert_rollup_exact(pool, [offer["id"]])  # each status's money too (docs/adr/0105)
