"""Amendments (a new amount for a known transaction) and conversions waiting for a currency
rate, through the public API and the real worker (docs/adr/0081). Currency rates are global
to the suite's database: these tests use codes no other test uses (QUA, QEA, QJA)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import httpx
from redis.asyncio import Redis

from tests.conversions.conftest import burst, clicks, make, world
from tests.conversions.money import (
    assert_rollup_exact,
    held_rollup,
    money,
    postback,
    read,
    report_row,
)
from tracker import redis_keys
from tracker.settings import Settings
from tracker.store.keys import create_key


async def test_an_amendment_is_repriced_with_the_rules_of_the_conversion_time(
    settings: Settings, service: str, api: httpx.AsyncClient, http: httpx.AsyncClient,
    pool: asyncpg.Pool,
) -> None:  # fmt: skip
    w = await world(api, partners=2, currencies=["QEA"])
    adv, offer = w["advertiser"], w["offers"][0]
    oid, p1, p2 = offer["id"], w["affiliates"][0]["id"], w["affiliates"][1]["id"]
    at0 = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    await make(api, "/api/v1/currency-rates", {"base": "QUA", "quote": "QEA", "rate": "0.9",
                                               "valid_from": at0}, "PUT")  # fmt: skip
    await make(api, f"/api/v1/offers/{oid}/goals/sale",
               {"multiple": True, "payout_percent": "10", "revenue_percent": "20"}, "PUT")  # fmt: skip
    await make(api, f"/api/v1/offers/{oid}/payout-overrides",
               {"affiliate_id": p2, "payout_percent": "15"})  # fmt: skip
    [k1] = await clicks(service, w["links"][(oid, p1)]["code"], 1)
    [k2] = await clicks(service, w["links"][(oid, p2)]["code"], 1)
    s1 = (await postback(http, adv, click_id=k1, txn_id="s1", goal="sale", amount="100",
                         currency="QUA")).json()["conversion_id"]  # fmt: skip
    s2 = (await postback(http, adv, click_id=k2, txn_id="s2", goal="sale", amount="200")).json()
    await burst(settings)
    assert [
        (x["payout"], x["revenue"])
        for x in [await read(api, s1), await read(api, s2["conversion_id"])]
    ] == [("9.0000", "18.0000"), ("30.0000", "40.0000")]  # fmt: skip  (100 QUA = 90 QEA)
    assert money(await report_row(api, oid)) == (2, Decimal(39), Decimal(58))

    # Every rule changes now: a new rate, new goal prices, the override ended and replaced.
    await make(api, "/api/v1/currency-rates", {"base": "QUA", "quote": "QEA", "rate": "0.5"}, "PUT")
    await make(api, f"/api/v1/offers/{oid}/goals/sale",
               {"multiple": True, "payout_percent": "50", "revenue_percent": "60"}, "PUT")  # fmt: skip
    ov = (await api.get(f"/api/v1/offers/{oid}/payout-overrides")).json()["items"][0]
    await make(api, f"/api/v1/offers/{oid}/payout-overrides/{ov['id']}",
               {"ends": datetime.now(UTC).isoformat()}, "PATCH")  # fmt: skip

    # A partial refund (amount only) and an upsell: re-priced with the rules of their time.
    r = await postback(http, adv, txn_id="s1", goal="sale", amount="40", currency="QUA")
    assert r.status_code == 202
    await postback(http, adv, txn_id="s2", goal="sale", amount="250.50")
    await burst(settings)
    a1, a2 = await read(api, s1), await read(api, s2["conversion_id"])
    assert (a1["amount"], a1["amount_converted"], a1["payout"], a1["revenue"]) == (
        "40.0000", "36.0000", "3.6000", "7.2000")  # fmt: skip
    assert (a2["payout"], a2["revenue"], a2["decision"]["payout_rule"]) == (
        "37.5800", "50.1000", f"override:{ov['id']} (revshare)")  # fmt: skip
    h = a1["history"][-1]
    assert (h["from_status"], h["to_status"], h["reason"], h["amount"], h["payout"]) == (
        "approved", "approved", "amended: amount 100.0000 QUA -> 40.0000 QUA", "40.0000", "3.6000")  # fmt: skip
    assert a1["decision"]["amendments"][0]["payout_before"] == "9.0000"
    # reports follow: moved by the difference
    assert money(await report_row(api, oid)) == (2, Decimal("41.18"), Decimal("57.30"))
    # the partner sees its payout history, never what the advertiser pays
    key = await create_key(pool, "affiliate", affiliate_id=p1)
    seen = (await http.get(f"/api/v1/conversions/{s1}",
                           headers={"Authorization": f"Bearer {key.token}"})).json()  # fmt: skip
    assert [h["payout"] for h in seen["history"]] == ["9.0000", "3.6000"]
    assert {h["revenue"] for h in seen["history"]} == {None} and seen["revenue"] is None
    assert "amendments" not in seen["decision"]  # who amended and the money before: admins

    # The same amendment again: a repeat (200, nothing queued). The first amount again (a
    # replay of the first postback): queued, but it changes nothing.
    again = await postback(http, adv, txn_id="s1", goal="sale", amount="40", currency="QUA")
    assert again.status_code == 200 and again.json()["duplicate"] is True
    await postback(http, adv, click_id=k1, txn_id="s1", goal="sale", amount="100", currency="QUA")
    await burst(settings)
    assert (await read(api, s1))["amount"] == "40.0000"
    # A status change without an amount never amends.
    await postback(http, adv, txn_id="s2", goal="sale", status="reversed")
    await burst(settings)
    a2 = await read(api, s2["conversion_id"])
    assert (a2["status"], a2["amount"]) == ("reversed", "250.5000")
    assert money(await report_row(api, oid)) == (1, Decimal("3.60"), Decimal("7.20"))
    await assert_rollup_exact(pool, [oid])  # each status's money too (docs/adr/0105)


async def test_bad_amounts_are_refused_and_nothing_is_stored(
    settings: Settings, api: httpx.AsyncClient, http: httpx.AsyncClient, redis: Redis,
    pool: asyncpg.Pool,
) -> None:  # fmt: skip
    w = await world(api)
    adv = w["advertiser"]
    ok = await postback(http, adv, txn_id="x", amount="10")
    for bad in ("-1", "-0.01", "NaN", "nan", "Infinity", "-inf", "1e3", "+5", "1000000000",
                "999999999.99999", "12,50", "0x10", " ", "1.2.3"):  # fmt: skip
        for params in ({"txn_id": "x", "amount": bad}, {"txn_id": "y", "payout": bad}):
            r = await http.get("/postback", params={"advertiser_id": adv["id"],
                                                    "token": adv["postback_token"], **params})  # fmt: skip
            if bad == " ":  # blank: no amount sent (a status change), not an error
                assert r.status_code in (200, 202), r.text
                continue
            body = r.json()
            assert r.status_code == 422, (bad, r.text)
            assert (
                body["error"]["field"] == "amount" and "999999999.9999" in body["error"]["message"]
            )
    js = await http.post("/postback", json={"advertiser_id": adv["id"], "token": adv["postback_token"],
                                            "txn_id": "z", "amount": -5})  # fmt: skip
    assert js.status_code == 422 and js.json()["error"]["field"] == "amount"
    edge = await postback(http, adv, txn_id="edge", amount="999999999.9999")
    assert edge.status_code == 202
    await burst(settings)
    rows = await pool.fetch(
        "SELECT txn_id, amount FROM conversions WHERE advertiser_id = $1 ORDER BY txn_id", adv["id"]
    )
    assert [(r["txn_id"], str(r["amount"])) for r in rows] == [
        ("edge", "999999999.9999"), ("x", "10.0000"), ("y", "0.0000")]  # fmt: skip
    assert ok.json()["conversion_id"]
    dead = await redis.xlen(redis_keys.of(settings).dead_letter_stream())
    assert dead == 0


async def test_a_conversion_without_a_rate_is_held_until_the_rate_arrives(
    settings: Settings, service: str, api: httpx.AsyncClient, http: httpx.AsyncClient,
    pool: asyncpg.Pool,
) -> None:  # fmt: skip
    w = await world(api, payout="0", revenue="0")
    adv, aff, offer = w["advertiser"], w["affiliates"][0], w["offers"][0]
    oid = offer["id"]
    await make(api, f"/api/v1/offers/{oid}/goals/default", {"payout_percent": "10",
               "revenue_percent": "20"}, "PUT")  # fmt: skip
    await make(api, f"/api/v1/offers/{oid}/caps", {"period": "day", "limit": "1"})
    ks = await clicks(service, w["links"][(oid, aff["id"])]["code"], 3)
    ids = [(await postback(http, adv, click_id=k, txn_id=f"j{i}", amount="1000", currency="QJA",
                           status=("approved", "pending", "approved")[i])).json()["conversion_id"]
           for i, k in enumerate(ks)]  # fmt: skip
    await burst(settings)
    held = [await read(api, i) for i in ids]
    assert {(c["status"], c["status_reason"], c["payout"]) for c in held} == {
        ("held", "no_rate", "0.0000")}  # fmt: skip
    # never counted at zero: not in conversions nor payout; the rollup counts them as held
    assert money(await report_row(api, oid)) == (0, Decimal(0), Decimal(0))
    assert await held_rollup(pool, oid) == (3, 0, Decimal(0))
    listed = (
        await api.get("/api/v1/conversions", params={"offer_id": oid, "status": "held"})
    ).json()
    assert len(listed["items"]) == 3

    # A rate that starts after them prices none of them.
    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    r = await api.put("/api/v1/currency-rates", json={"base": "QJA", "quote": "USD",
                                                      "rate": "0.0067", "valid_from": later})  # fmt: skip
    assert r.status_code == 200 and r.json()["repriced"] == 0
    # The rate of their time: priced and screened (the day cap of 1 takes the first only).
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    r = await api.put("/api/v1/currency-rates", json={"base": "QJA", "quote": "USD",
                                                      "rate": "0.0065", "valid_from": since})  # fmt: skip
    assert r.status_code == 200 and r.json()["repriced"] == 3, r.text
    after = [await read(api, i) for i in ids]
    assert [(c["status"], c["status_reason"], c["payout"], c["revenue"]) for c in after] == [
        ("approved", "priced: rate QJA/USD added", "0.6500", "1.3000"),
        ("rejected", "cap", "0.6500", "1.3000"),
        ("rejected", "cap", "0.6500", "1.3000"),
    ]  # fmt: skip
    assert after[0]["decision"]["currency"]["rate"] == "0.0065000000"
    assert money(await report_row(api, oid)) == (1, Decimal("0.65"), Decimal("1.30"))
    assert await held_rollup(pool, oid) == (0, 1, Decimal("0.65"))
    assert (await api.put("/api/v1/currency-rates", json={"base": "QJA", "quote": "USD",
            "rate": "0.0065", "valid_from": since})).json()["repriced"] == 0  # fmt: skip
    await assert_rollup_exact(pool, [oid])  # each status's money too (docs/adr/0105)
