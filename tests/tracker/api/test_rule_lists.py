"""Lists of pricing rules: cursor pages that visit every row once, and their filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from tests.conversions.conftest import make, world
from tracker.store.keys import create_key

T0 = datetime(2026, 5, 1, tzinfo=UTC)


async def _walk(api: httpx.AsyncClient, url: str, limit: int, **params: Any) -> list[Any]:
    """Every item of a list, page by page (bounded), checking each page's size."""
    items: list[Any] = []
    cursor = None
    for _ in range(50):
        q = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        r = await api.get(url, params=q)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= limit
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError(f"{url}: more than 50 pages")


async def test_promo_codes_page_and_filter(api: httpx.AsyncClient) -> None:
    w = await world(api, partners=2)
    o = w["offers"][0]["id"]
    a, b = (p["id"] for p in w["affiliates"])
    made = []
    for n in range(7):
        body: dict[str, Any] = {"offer_id": o, "affiliate_id": a if n % 2 else b,
                                "code": f"Code{n}"}  # fmt: skip
        if n == 3:  # ended before T0 + 1 day
            body |= {"starts_at": T0.isoformat(), "ends_at": (T0 + timedelta(days=1)).isoformat()}
        made.append(await make(api, "/api/v1/promo-codes", body))
    url = f"/api/v1/offers/{o}/promo-codes"
    for limit in (1, 3, 7, 100):  # a page boundary anywhere: every code once, in order
        assert [c["id"] for c in await _walk(api, url, limit)] == [c["id"] for c in made]
    mine = await _walk(api, url, 2, affiliate_id=a)
    assert [c["code"] for c in mine] == ["Code1", "Code3", "Code5"]
    assert [c["id"] for c in await _walk(api, url, 5, code="CODE4")] == [made[4]["id"]]
    later = (T0 + timedelta(days=2)).isoformat()
    assert len(await _walk(api, url, 2, valid_at=later)) == 6  # Code3 has ended
    assert [c["code"] for c in await _walk(api, url, 2, valid_at=T0.isoformat())] == [
        f"Code{n}" for n in range(7)
    ]
    other = await world(api)  # another offer's codes are not in this list
    await make(api, "/api/v1/promo-codes", {"offer_id": other["offers"][0]["id"],
                                            "affiliate_id": a, "code": "Elsewhere"})  # fmt: skip
    assert "Elsewhere" not in {c["code"] for c in await _walk(api, url, 3)}


async def test_overrides_and_caps_filters(api: httpx.AsyncClient) -> None:
    w = await world(api, partners=2)
    o = w["offers"][0]["id"]
    a, b = (p["id"] for p in w["affiliates"])
    base = f"/api/v1/offers/{o}"
    first = await make(api, f"{base}/payout-overrides", {"affiliate_id": a, "payout_flat": "1",
                                                         "valid_to": T0.isoformat()})  # fmt: skip
    second = await make(api, f"{base}/payout-overrides", {"affiliate_id": a, "payout_flat": "2",
                                                          "valid_from": T0.isoformat()})  # fmt: skip
    await make(api, f"{base}/payout-overrides", {"affiliate_id": b, "payout_flat": "3"})
    got = await _walk(api, f"{base}/payout-overrides", 1, affiliate_id=a)
    assert [x["id"] for x in got] == [first["id"], second["id"]]
    at = await _walk(api, f"{base}/payout-overrides", 5, affiliate_id=a, valid_at=T0.isoformat())
    assert [x["id"] for x in at] == [second["id"]]  # valid_to is exclusive
    caps = [await make(api, f"{base}/caps", {"period": "day", "limit": str(n + 1),
                                             **({"affiliate_id": b} if n else {})})
            for n in range(3)]  # fmt: skip
    await make(api, f"{base}/caps/{caps[1]['id']}/archive", {})
    live = await _walk(api, f"{base}/caps", 1, archived="false")
    assert [c["id"] for c in live] == [caps[0]["id"], caps[2]["id"]]
    gone = await _walk(api, f"{base}/caps", 1, archived="true", affiliate_id=b)
    assert [c["id"] for c in gone] == [caps[1]["id"]]


async def test_currency_rates_and_goals_page(api: httpx.AsyncClient, service: str,
                                             pool: asyncpg.Pool) -> None:  # fmt: skip
    made = []
    for quote in ("QQA", "QQB"):
        for days in (-40_000, 0, 1, 2):  # one before 1970: a negative cursor
            at = T0 + timedelta(days=days)
            made.append(("QQZ", quote, at))
            await make(api, "/api/v1/currency-rates", {
                "base": "QQZ", "quote": quote, "rate": f"1.{days % 7}", "valid_from": at.isoformat()},
                "PUT")  # fmt: skip
    for limit in (1, 3, 8):
        got = await _walk(api, "/api/v1/currency-rates", limit, base="QQZ")
        assert [
            (r["base"], r["quote"], datetime.fromisoformat(r["valid_from"])) for r in got
        ] == made
    only_b = await _walk(api, "/api/v1/currency-rates", 3, base="QQZ", quote="QQB")
    assert len(only_b) == 4 and {r["quote"] for r in only_b} == {"QQB"}
    # any cursor the pattern allows is answered: far past the last key, an empty page
    far = await api.get("/api/v1/currency-rates", params={"cursor": "rZZZZZZffffffffffffffff"})
    assert far.status_code == 200 and far.json() == {"items": [], "next_cursor": None}
    early = await api.get("/api/v1/currency-rates",
                          params={"cursor": "rQQZQQA-ffffffffffffffff", "base": "QQZ"})  # fmt: skip
    assert early.status_code == 200 and len(early.json()["items"]) == 8
    bad = await api.get("/api/v1/currency-rates", params={"cursor": "c12"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "cursor"

    w = await world(api)
    o, aff = w["offers"][0]["id"], w["affiliates"][0]["id"]
    codes = ["Z-last", "a.first", "lead", "sale", "install"]
    for code in codes:
        await make(api, f"/api/v1/offers/{o}/goals/{code}", {"revenue_flat": "9"}, "PUT")
    goals = await _walk(api, f"/api/v1/offers/{o}/goals", 2)
    assert [g["code"] for g in goals] == sorted(codes)  # byte order: upper case first
    token = (await create_key(pool, "affiliate", affiliate_id=aff)).token
    async with httpx.AsyncClient(base_url=service,
                                 headers={"Authorization": f"Bearer {token}"}) as partner:  # fmt: skip
        seen = await _walk(partner, f"/api/v1/offers/{o}/goals", 3)
        assert [g["code"] for g in seen] == sorted(codes)
        assert {g["revenue_flat"] for g in seen} == {None}  # partners never see revenue
        refused = await partner.get(f"/api/v1/offers/{o}/promo-codes")
        assert refused.status_code == 403


async def test_rules_read_back_one_by_one(api: httpx.AsyncClient) -> None:
    w = await world(api)
    o, a = w["offers"][0]["id"], w["affiliates"][0]["id"]
    base = f"/api/v1/offers/{o}"
    made = {
        "payout-overrides": await make(api, f"{base}/payout-overrides",
                                       {"affiliate_id": a, "payout_flat": "1.5"}),
        "payout-tiers": await make(api, f"{base}/payout-tiers",
                                   {"threshold": "9", "valid_to": T0.isoformat()}),
        "caps": await make(api, f"{base}/caps", {"period": "month", "limit": "12"}),
    }  # fmt: skip
    for rule, row in made.items():
        got = await api.get(f"{base}/{rule}/{row['id']}")
        assert got.status_code == 200 and got.json() == row, (rule, got.text)
        gone = await api.get(f"{base}/{rule}/{row['id'] + 10_000}")
        assert gone.status_code == 404 and gone.json()["error"]["field"] == "id"
    code = await make(api, "/api/v1/promo-codes", {"offer_id": o, "affiliate_id": a, "code": "R1"})
    got = (await api.get(f"/api/v1/promo-codes/{code['id']}")).json()
    assert got == code and got["starts_at"] is None and got["ends_at"] is None
    await make(api, f"{base}/goals/lead", {"payout_flat": "2", "revenue_flat": "3"}, "PUT")
    goal = (await api.get(f"{base}/goals/lead")).json()
    assert (goal["code"], goal["payout_flat"], goal["revenue_flat"]) == ("lead", "2.0000", "3.0000")
    assert (await api.get(f"{base}/goals/sale")).status_code == 404

    adv = w["advertiser"]["id"]
    url = f"/api/v1/advertisers/{adv}/postback-auth"
    assert (await api.get(url)).json() == {
        "has_secret": False, "previous_until": None, "require_signature": False,
        "ip_allowlist": [], "allow_pixel": False, "pixel_status": "pending",
    }  # fmt: skip
    secret = "s3cret-s3cret-s3cret"
    await make(api, url, {"hmac_secret": secret, "require_signature": True,
                          "ip_allowlist": ["203.0.113.0/24"], "allow_pixel": False}, "PUT")  # fmt: skip
    r = await api.get(url)
    assert r.json() == {"has_secret": True, "previous_until": None, "require_signature": True,
                        "ip_allowlist": ["203.0.113.0/24"], "allow_pixel": False,
                        "pixel_status": "pending"}  # fmt: skip
    assert secret not in r.text
    assert (await api.get("/api/v1/advertisers/999999999/postback-auth")).status_code == 404


async def test_bad_list_input_names_the_field(api: httpx.AsyncClient) -> None:
    o = (await world(api))["offers"][0]["id"]
    for url, params, field in (
        (f"/api/v1/offers/{o}/promo-codes", {"valid_at": "yesterday"}, "valid_at"),
        (f"/api/v1/offers/{o}/caps", {"archived": "maybe"}, "archived"),
        (f"/api/v1/offers/{o}/goals", {"cursor": "c12"}, "cursor"),
        (f"/api/v1/offers/{o}/revenue-rules", {"affiliate_id": "0"}, "affiliate_id"),
        ("/api/v1/currency-rates", {"base": "usd"}, "base"),
        (f"/api/v1/offers/{o}/payout-tiers", {"limit": "1001"}, "limit"),
    ):
        r = await api.get(url, params=params)
        assert r.status_code == 422, (url, r.text)
        assert r.json()["error"]["field"] == field, (url, r.text)
    missing = await api.get("/api/v1/offers/999999999/payout-overrides")
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "offer_id"
