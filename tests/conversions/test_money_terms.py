"""An offer's money is editable from a date on, settings change partially, and the status
words merchants may send are in the OpenAPI document (docs/adr/0081, 0080)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx

from tests.conversions.conftest import burst, clicks, world
from tests.conversions.money import assert_rollup_exact, postback, read
from tracker.domain.conversion_status import ALIASES
from tracker.settings import Settings


async def test_offer_money_changes_from_a_date_and_old_conversions_keep_their_price(
    settings: Settings, service: str, api: httpx.AsyncClient, http: httpx.AsyncClient,
    pool: asyncpg.Pool,
) -> None:  # fmt: skip
    w = await world(api)
    adv, aff, offer = w["advertiser"], w["affiliates"][0], w["offers"][0]
    oid, code = offer["id"], w["links"][(offer["id"], aff["id"])]["code"]
    k1, k2, k3 = await clicks(service, code, 3)
    old = (await postback(http, adv, click_id=k1, txn_id="o1", amount="10")).json()
    await burst(settings)

    r = await api.patch(f"/api/v1/offers/{oid}", json={"default_payout": "3.75"})
    assert r.status_code == 200, r.text
    assert (r.json()["default_payout"], r.json()["default_revenue"], r.json()["currency"]) == (
        "3.7500", "4.0000", "USD")  # fmt: skip
    new = (await postback(http, adv, click_id=k2, txn_id="o2", amount="10")).json()
    await burst(settings)
    assert (await read(api, old["conversion_id"]))["payout"] == "2.5000"
    assert (await read(api, new["conversion_id"]))["payout"] == "3.7500"
    # an amendment of the old one is priced with the old terms
    await postback(http, adv, txn_id="o1", amount="12")
    await burst(settings)
    amended = await read(api, old["conversion_id"])
    assert (amended["amount"], amended["payout"]) == ("12.0000", "2.5000")

    # A change scheduled ahead: the offer shows today's terms until the date, then the new.
    soon = datetime.now(UTC) + timedelta(seconds=2)
    r = await api.patch(f"/api/v1/offers/{oid}", json={"default_revenue": "9", "currency": "EUR",
                                                       "money_from": soon.isoformat()})  # fmt: skip
    assert r.status_code == 200 and (r.json()["default_revenue"], r.json()["currency"]) == (
        "4.0000", "USD")  # fmt: skip
    terms = (await api.get(f"/api/v1/offers/{oid}/price-terms")).json()["items"]
    assert [(t["goal"], t["currency"], t["payout_flat"], t["revenue_flat"]) for t in terms] == [
        (None, "USD", "2.5000", "4.0000"), (None, "USD", "3.7500", "4.0000"),
        (None, "EUR", "3.7500", "9.0000")]  # fmt: skip
    assert terms[0]["valid_from"] is None and terms[1]["actor"].startswith("api:key")
    # refused: in the past, before the scheduled change, money_from alone, null
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    for body, code_, field in (
        ({"default_payout": "1", "money_from": past}, 422, "money_from"),
        ({"default_payout": "1"}, 409, "money_from"),
        ({"money_from": (soon + timedelta(days=1)).isoformat()}, 422, "money_from"),
        ({"default_payout": None}, 422, "default_payout"),
        ({"default_payout": "-1"}, 422, "default_payout"),
    ):
        r = await api.patch(f"/api/v1/offers/{oid}", json=body)
        assert (r.status_code, r.json()["error"]["field"]) == (code_, field), (body, r.text)
    await asyncio.sleep(max((soon - datetime.now(UTC)).total_seconds(), 0) + 0.1)
    await burst(settings)  # the worker's sweep shows terms that fell due in the offer's fields
    got = (await api.get(f"/api/v1/offers/{oid}")).json()
    assert (got["default_payout"], got["default_revenue"], got["currency"]) == (
        "3.7500", "9.0000", "EUR")  # fmt: skip
    eur = (await postback(http, adv, click_id=k3, txn_id="o3", amount="10")).json()
    await burst(settings)
    c = await read(api, eur["conversion_id"])
    assert (c["currency"], c["offer_currency"], c["payout"], c["revenue"]) == (
        "EUR", "EUR", "3.7500", "9.0000")  # fmt: skip
    await assert_rollup_exact(pool, [oid])  # each status's money too (docs/adr/0105)


async def test_conversion_settings_patch_changes_only_what_is_sent(api: httpx.AsyncClient) -> None:
    w = await world(api)
    url = f"/api/v1/offers/{w['offers'][0]['id']}/conversion-settings"
    full = {"cap_action": "pending", "fraud_mode": "shadow", "min_click_seconds": 5,
            "timezone": "Europe/Berlin", "attribution_window_days": 7}  # fmt: skip
    assert (await api.put(url, json=full)).status_code == 200
    r = await api.patch(url, json={"timezone": "Asia/Kolkata"})
    assert r.status_code == 200, r.text
    got = r.json()
    assert {k: got[k] for k in full} == {**full, "timezone": "Asia/Kolkata"}
    r = await api.patch(url, json={"min_click_seconds": None})  # null turns a limit off
    assert r.json()["min_click_seconds"] is None and r.json()["cap_action"] == "pending"
    for body, field in (({"cap_action": None}, "cap_action"), ({"timezone": "Mars/Base"}, "timezone"),
                        ({"cap_action": "hold"}, "cap_action")):  # fmt: skip
        r = await api.patch(url, json=body)
        assert (r.status_code, r.json()["error"]["field"]) == (422, field), r.text
    assert (await api.get(url)).json()["cap_action"] == "pending"
    # PUT keeps replace semantics: what is left out takes its default
    r = await api.put(url, json={"fraud_mode": "shadow"})
    assert (r.json()["cap_action"], r.json()["timezone"], r.json()["attribution_window_days"]) == (
        "reject", "UTC", 30)  # fmt: skip


async def test_status_aliases_are_in_the_openapi_document_and_accepted(
    settings: Settings, service: str, api: httpx.AsyncClient, http: httpx.AsyncClient,
) -> None:  # fmt: skip
    doc = (await http.get("/openapi.json")).json()
    for path in ("/postback", "/aff_lsr", "/aff_goal"):
        for method in ("get", "post"):
            params = {p["name"]: p for p in doc["paths"][path][method]["parameters"]}
            assert set(params["status"]["schema"]["enum"]) == set(ALIASES)
            assert {"1", "-1", "hold", "declined", "chargeback"} <= set(ALIASES)
            assert params["amount"]["schema"]["pattern"] == r"^[0-9]{1,9}(\.[0-9]{1,4})?$"
            assert "txn_id" in params and "adv_sub" in params
    w = await world(api)
    adv = w["advertiser"]
    for word in ALIASES:
        r = await postback(http, adv, txn_id=f"alias-{word}", status=word.upper())
        assert r.status_code == 202, word
    r = await http.get("/postback", params={"advertiser_id": adv["id"], "token": adv["postback_token"],
                                            "txn_id": "bad", "status": "maybe"})  # fmt: skip
    assert r.status_code == 422 and r.json()["error"]["field"] == "status"
    await burst(settings)
    listed = (await api.get("/api/v1/conversions", params={"advertiser_id": adv["id"]})).json()
    merchant = {c["txn_id"][6:]: c["merchant_status"] for c in listed["items"]}
    assert merchant == ALIASES


def test_the_readme_lists_every_status_word() -> None:
    lines = (Path(__file__).parents[2] / "README.md").read_text().splitlines()
    for word, status in ALIASES.items():
        row = next(line for line in lines if line.startswith(f"| `{status}`"))
        assert f"`{word}`" in row.split("|")[2], (word, row)
