"""The leaks of issue 17, closed by the views (tracker/api/views, docs/visibility.md):
partners never see revenue (month-to-date figures included), fraud rules, thresholds,
shadow flags or cap limits; advertisers never see payouts unless in-house; ``trk_*``
parameters never reach a partner. Real clicks, postbacks and worker, then every read."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from tests.conversions.conftest import burst, make, world
from tracker.settings import Settings
from tracker.store.keys import create_key

# Markers a timestamp or a UUID cannot contain by chance (a dot after 3+ digits).
PAYOUT, REVENUE, CAP, FRAUD_LIMIT, TRK = "515.19", "737.79", "98765.4321", 86_399, "zzTRKzz"


async def _get(http: httpx.AsyncClient, url: str, **kw: Any) -> httpx.Response:
    r = await http.get(url, **kw)
    assert r.status_code == 200, (url, r.status_code, r.text)
    return r


async def _reads(http: httpx.AsyncClient, w: dict[str, Any], cid: str, conv: str) -> dict[str, Any]:
    """Every read of the scenario's rows, as one key sees them."""
    o, adv = w["offers"][0]["id"], w["advertiser"]["id"]
    now = datetime.now(UTC)
    span = {
        "from": (now - timedelta(hours=1)).isoformat(),
        "to": (now + timedelta(hours=1)).isoformat(),
    }
    got = {
        "conversion": (await _get(http, f"/api/v1/conversions/{conv}")).json(),
        "click": (await _get(http, f"/api/v1/clicks/{cid}")).json(),
        "list": (await _get(http, "/api/v1/conversions", params={"offer_id": o})).json(),
        "lookup": (await _get(http, "/api/v1/conversions/lookup",
                              params={"advertiser_id": adv, "txn_id": "t-2"})).json(),
        "offer": (await _get(http, f"/api/v1/offers/{o}")).json(),
        "goal": (await _get(http, f"/api/v1/offers/{o}/goals/default")).json(),
        "ndjson": (await _get(http, "/api/v1/exports/conversions", params=span)).text,
        "csv": (await _get(http, "/api/v1/exports/conversions",
                           params={**span, "format": "csv"})).text,
        "report": (await _get(http, "/api/v1/reports", params={"group_by": "offer"})).json(),
    }  # fmt: skip
    got["text"] = json.dumps({k: v for k, v in got.items() if k not in ("ndjson", "csv")})
    got["text"] += got["ndjson"] + got["csv"]
    return got


async def test_each_role_sees_only_its_fields(
    settings: Settings, service: str, api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    settings.postback_allow_loopback = True
    w = await world(api, payout=PAYOUT, revenue=REVENUE)
    adv, aff, offer = w["advertiser"], w["affiliates"][0], w["offers"][0]
    o = offer["id"]
    await make(api, f"/api/v1/offers/{o}/goals/default",
               {"payout_flat": PAYOUT, "revenue_flat": REVENUE, "multiple": True}, "PUT")  # fmt: skip
    await make(api, f"/api/v1/offers/{o}/conversion-settings",
               {"fraud_mode": "shadow", "min_click_seconds": FRAUD_LIMIT}, "PUT")  # fmt: skip
    await make(api, f"/api/v1/offers/{o}/caps", {"period": "month", "limit": CAP})
    # a tier makes the worker record the partner's month to date
    await make(api, f"/api/v1/offers/{o}/payout-tiers", {"threshold": "1000", "payout_flat": "9"})
    await make(api, "/api/v1/partner-postbacks", {
        "affiliate_id": aff["id"], "method": "POST",
        "url_template": "http://127.0.0.1:9/pb?t={p:trk_secret}&v={p:visible}&c={click_id}"})  # fmt: skip
    code = w["links"][(o, aff["id"])]["code"]
    async with httpx.AsyncClient(base_url=service) as visitor:
        r = await visitor.get(f"/c/{code}", params={"trk_secret": TRK, "visible": "seen"})
    cid = r.headers["location"].split("cid=")[1]
    await burst(settings)
    async with httpx.AsyncClient(base_url=service) as merchant:
        for txn in ("t-1", "t-2"):
            r = await merchant.get("/postback", params={
                "advertiser_id": adv["id"], "token": adv["postback_token"], "click_id": cid,
                "txn_id": txn, "amount": "10", "goal": "default"})  # fmt: skip
            assert r.status_code == 202, r.text
            await burst(settings)  # t-2's month to date counts t-1
    conv = str(await pool.fetchval("SELECT conversion_id FROM conversions WHERE txn_id = 't-2'"
                                   " AND advertiser_id = $1", adv["id"]))  # fmt: skip

    keys = {
        "admin": api.headers["Authorization"].split()[1],
        "partner": (await create_key(pool, "affiliate", affiliate_id=aff["id"])).token,
        "advertiser": (await create_key(pool, "advertiser", advertiser_id=adv["id"])).token,
    }
    seen: dict[str, dict[str, Any]] = {}
    for name, token in keys.items():
        async with httpx.AsyncClient(base_url=service, timeout=20,
                                     headers={"Authorization": f"Bearer {token}"}) as http:  # fmt: skip
            seen[name] = await _reads(http, w, cid, conv)

    admin = seen["admin"]["conversion"]
    decision = admin["decision"]
    assert {"fraud", "caps", "month_to_date", "payout_rule", "revenue_rule"} <= set(decision), (
        decision,
        admin["status"],
        admin["status_reason"],
    )
    assert decision["month_to_date"]["revenue"] == REVENUE + "00"  # the first conversion's
    assert decision["fraud"]["checks"][0]["outcome"] == "flagged"
    assert decision["caps"][0]["limit"] == CAP and CAP in seen["admin"]["text"]
    assert (admin["payout"], admin["revenue"]) == (PAYOUT + "00", REVENUE + "00")

    part = seen["partner"]
    assert REVENUE not in part["text"], "a partner key saw revenue"
    assert CAP not in part["text"]  # fraud limits: the decision record has no "fraud" (below)
    for item in (part["conversion"], part["click"]["conversions"][0], part["lookup"]["items"][0],
                 part["list"]["items"][0]):  # fmt: skip
        d = item["decision"]
        assert not {"fraud", "caps", "revenue", "revenue_rule"} & set(d), d
        assert set(d["month_to_date"]) == {"approved", "amount", "tz"}, d
        assert item["revenue"] is None and item["payout"] == PAYOUT + "00"
        assert all(h["actor"] in ("postback", "pixel", "api", "tracker") for h in item["history"])
    assert part["offer"]["landing_url"] is None and part["offer"]["default_revenue"] is None
    assert part["goal"]["revenue_flat"] is None and part["goal"]["payout_flat"] == PAYOUT + "00"
    assert "revenue" not in part["csv"].splitlines()[0].split(",")
    assert part["report"]["totals"]["revenue"] is None

    advr = seen["advertiser"]
    assert PAYOUT not in advr["text"], "an advertiser key saw the partner's payout"
    c = advr["conversion"]
    assert c["payout"] is None and c["revenue"] == REVENUE + "00"
    assert not {"payout", "payout_rule", "month_to_date", "fraud", "caps"} & set(c["decision"])
    assert advr["offer"]["default_payout"] is None and advr["goal"]["payout_flat"] is None
    assert "payout" not in advr["csv"].splitlines()[0].split(",")
    assert advr["report"]["totals"]["payout"] is None

    # trk_* never leaves the tracker: not in the partner's postback, URL or body.
    rows = await pool.fetch("SELECT url, body FROM postback_outbox WHERE affiliate_id = $1",
                            aff["id"])  # fmt: skip
    assert rows and all(TRK not in r["url"] and TRK.encode() not in (r["body"] or b"")
                        for r in rows)  # fmt: skip
    assert all("v=seen" in r["url"] and b'"visible": "seen"' in r["body"].replace(b":", b": ")
               for r in rows)  # fmt: skip
    async with httpx.AsyncClient(base_url=service, headers={
            "Authorization": f"Bearer {keys['partner']}"}) as http:  # fmt: skip
        deliveries = (await _get(http, "/api/v1/deliveries")).text
    assert TRK not in deliveries and "v=seen" in deliveries


async def test_an_in_house_advertiser_sees_payouts(
    settings: Settings, service: str, api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    w = await world(api, payout=PAYOUT, revenue=REVENUE)
    adv, o = w["advertiser"], w["offers"][0]["id"]
    token = (await create_key(pool, "advertiser", advertiser_id=adv["id"])).token
    async with httpx.AsyncClient(
        base_url=service, headers={"Authorization": f"Bearer {token}"}
    ) as http:
        assert (await _get(http, f"/api/v1/offers/{o}")).json()["default_payout"] is None
        assert (await _get(http, f"/api/v1/advertisers/{adv['id']}")).json()["in_house"] is False
        r = await api.patch(f"/api/v1/advertisers/{adv['id']}", json={"in_house": True})
        assert r.status_code == 200 and r.json()["in_house"] is True
        got = (await _get(http, f"/api/v1/offers/{o}")).json()
        assert (got["default_payout"], got["default_revenue"]) == (PAYOUT + "00", REVENUE + "00")
        report = (await _get(http, "/api/v1/reports")).json()["totals"]
        assert report["payout"] is not None and report["profit"] is not None
        assert (await http.patch(f"/api/v1/advertisers/{adv['id']}",
                                 json={"in_house": False})).status_code == 403  # fmt: skip
    # Only admin keys with the write scope see the postback token.
    ro = (await create_key(pool, "admin", scopes=("read",))).token
    async with httpx.AsyncClient(
        base_url=service, headers={"Authorization": f"Bearer {ro}"}
    ) as http:
        assert (await _get(http, f"/api/v1/advertisers/{adv['id']}")).json()[
            "postback_token"
        ] is None
    assert (await api.get(f"/api/v1/advertisers/{adv['id']}")).json()["postback_token"]
