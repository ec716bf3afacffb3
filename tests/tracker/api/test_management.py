"""Management lists: cursor pages, filters, updates, the error shapes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from tracker.store.keys import create_key


async def test_pages_walk_every_row_once_with_filters(api: httpx.AsyncClient) -> None:
    adv = (await api.post("/api/v1/advertisers", json={"name": "paged"})).json()
    made = []
    for n in range(7):
        r = await api.post("/api/v1/offers", json={
            "advertiser_id": adv["id"], "name": f"o{n}", "landing_url": "https://shop.example/x",
            "status": "paused" if n % 3 == 0 else "active"})  # fmt: skip
        assert r.status_code == 201, r.text
        made.append(r.json()["id"])
    seen: list[int] = []
    cursor = None
    for _ in range(10):
        params: dict[str, object] = {"advertiser_id": adv["id"], "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = (await api.get("/api/v1/offers", params=params)).json()
        seen += [o["id"] for o in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == made
    paused = (await api.get("/api/v1/offers", params={"advertiser_id": adv["id"],
                                                       "status": "paused"})).json()  # fmt: skip
    assert [o["id"] for o in paused["items"]] == [made[0], made[3], made[6]]
    later = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    none = (await api.get("/api/v1/offers", params={"advertiser_id": adv["id"],
                                                     "updated_since": later})).json()  # fmt: skip
    assert none == {"items": [], "next_cursor": None}


async def test_bad_input_answers_json_with_the_field(api: httpx.AsyncClient) -> None:
    for params, field in (({"cursor": "not-ours"}, "cursor"), ({"limit": 0}, "limit"),
                          ({"status": "gone"}, "status"), ({"updated_since": "12"}, "updated_since")):  # fmt: skip
        r = await api.get("/api/v1/links", params=params)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["field"] == field and r.json()["error"]["code"] == "invalid"
    r = await api.get(f"/api/v1/offers/{2**63}")
    assert r.status_code == 422 and r.json()["error"]["field"] == "offer_id"
    r = await api.post("/api/v1/offers", json={"advertiser_id": 1, "name": "x",
                                               "landing_url": "https://a.example/", "default_payout": 0.1})  # fmt: skip
    assert r.status_code == 422 and r.json()["error"]["field"] == "default_payout"
    adv = (await api.post("/api/v1/advertisers", json={"name": "bad input"})).json()
    offer = (await api.post("/api/v1/offers", json={"advertiser_id": adv["id"], "name": "x",
                                                     "landing_url": "https://a.example/"})).json()  # fmt: skip
    r = await api.patch(f"/api/v1/offers/{offer['id']}", json={"name": None})
    assert r.status_code == 422 and r.json()["error"]["field"] == "name"
    r = await api.post(
        "/api/v1/advertisers", content=b"\xff\xfe", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 422 and r.json()["error"]["code"] in ("malformed_json", "invalid")
    r = await api.put("/api/v1/advertisers")
    assert r.status_code == 405 and set(r.headers["allow"].split(", ")) == {"GET", "POST"}


async def test_updates_and_what_tenants_see(api: httpx.AsyncClient, service: str,
                                            pool: asyncpg.Pool) -> None:  # fmt: skip
    adv = (await api.post("/api/v1/advertisers", json={"name": "before"})).json()
    r = await api.patch(
        f"/api/v1/advertisers/{adv['id']}", json={"name": "after", "status": "paused"}
    )
    assert r.status_code == 200 and (r.json()["name"], r.json()["status"]) == ("after", "paused")
    aff = (await api.post("/api/v1/affiliates", json={"name": "p"})).json()
    offer = (await api.post("/api/v1/offers", json={
        "advertiser_id": adv["id"], "name": "o", "landing_url": "https://shop.example/x",
        "default_revenue": "9.5", "default_payout": "4"})).json()  # fmt: skip
    await api.post("/api/v1/links", json={"offer_id": offer["id"], "affiliate_id": aff["id"]})
    partner = (await create_key(pool, "affiliate", affiliate_id=aff["id"])).token
    owner = (await create_key(pool, "advertiser", advertiser_id=adv["id"])).token
    async with httpx.AsyncClient(base_url=service) as http:
        seen = (await http.get(f"/api/v1/offers/{offer['id']}",
                               headers={"Authorization": f"Bearer {partner}"})).json()  # fmt: skip
        assert seen["default_revenue"] is None and seen["default_payout"] == "4.0000"
        mine = (await http.get(f"/api/v1/advertisers/{adv['id']}",
                               headers={"Authorization": f"Bearer {owner}"})).json()  # fmt: skip
        assert mine["name"] == "after" and mine["postback_token"] is None


async def test_a_key_cannot_revoke_itself(api: httpx.AsyncClient, admin_key: str,
                                          pool: asyncpg.Pool) -> None:  # fmt: skip
    own_id = await pool.fetchval(
        "SELECT id FROM api_keys WHERE prefix = $1", admin_key.split("_")[1]
    )
    r = await api.delete(f"/api/v1/keys/{own_id}")
    assert r.status_code == 409 and r.json()["error"]["field"] == "key_id"
    assert (await api.get(f"/api/v1/keys/{own_id}")).json()["id"] == own_id


async def test_a_partner_pauses_its_postback_setting(api: httpx.AsyncClient, service: str,
                                                     pool: asyncpg.Pool) -> None:  # fmt: skip
    aff = (await api.post("/api/v1/affiliates", json={"name": "p"})).json()
    made = (await api.post("/api/v1/partner-postbacks", json={
        "affiliate_id": aff["id"], "url_template": "https://partner.example/pb?c={click_id}"})).json()  # fmt: skip
    token = (await create_key(pool, "affiliate", affiliate_id=aff["id"])).token
    async with httpx.AsyncClient(
        base_url=service, headers={"Authorization": f"Bearer {token}"}
    ) as h:
        r = await h.patch(f"/api/v1/partner-postbacks/{made['id']}",
                          json={"active": False, "events": ["approved", "approved"]})  # fmt: skip
        assert r.status_code == 200, r.text
        assert (r.json()["active"], r.json()["events"], r.json()["secret"]) == (
            False,
            ["approved"],
            None,
        )
        r = await h.patch(f"/api/v1/partner-postbacks/{made['id']}",
                          json={"url_template": "http://169.254.169.254/x"})  # fmt: skip
        assert r.status_code == 422 and r.json()["error"]["field"] == "url_template"


async def test_rules_end_at_a_date_and_are_never_deleted(api: httpx.AsyncClient) -> None:
    adv = (await api.post("/api/v1/advertisers", json={"name": "a"})).json()
    aff = (await api.post("/api/v1/affiliates", json={"name": "p"})).json()
    offers = [(await api.post("/api/v1/offers", json={
        "advertiser_id": adv["id"], "name": f"o{n}", "landing_url": "https://shop.example/x"})).json()
        for n in range(2)]  # fmt: skip
    url = f"/api/v1/offers/{offers[0]['id']}/payout-overrides"
    made = (await api.post(url, json={"affiliate_id": aff["id"], "payout_flat": "2",
                                      "valid_from": "2026-01-01T00:00:00Z"})).json()  # fmt: skip
    r = await api.patch(f"{url}/{made['id']}", json={"ends": "2026-06-30T22:00:00+00:00"})
    assert r.status_code == 200 and r.json()["valid_to"] == "2026-06-30T22:00:00Z", r.text
    r = await api.patch(f"{url}/{made['id']}", json={"ends": "2025-01-01T00:00:00Z"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "ends"
    other = f"/api/v1/offers/{offers[1]['id']}/payout-overrides/{made['id']}"
    assert (await api.patch(other, json={"ends": "2027-01-01T00:00:00Z"})).status_code == 404
    assert [o["valid_to"] for o in (await api.get(url)).json()["items"]] == ["2026-06-30T22:00:00Z"]
    code = (await api.post("/api/v1/promo-codes", json={
        "offer_id": offers[0]["id"], "affiliate_id": aff["id"], "code": "SUMMER"})).json()  # fmt: skip
    r = await api.patch(f"/api/v1/promo-codes/{code['id']}", json={"ends": "2026-09-01T00:00:00Z"})
    assert r.status_code == 200 and r.json()["ends_at"] == "2026-09-01T00:00:00Z"
    assert r.json()["starts_at"] is None


async def test_partner_postbacks_and_deliveries_page_through(
    api: httpx.AsyncClient, service: str, pool: asyncpg.Pool
) -> None:
    affs = [(await api.post("/api/v1/affiliates", json={"name": f"p{i}"})).json() for i in (0, 1)]
    settings = [
        (await api.post("/api/v1/partner-postbacks", json={
            "affiliate_id": affs[i]["id"], "url_template": f"https://p{i}.example/pb?n={n}"})).json()
        for i, n in ((0, 1), (1, 1), (0, 2), (0, 3))
    ]  # fmt: skip
    walked, cursor = [], None
    while True:
        params = {"affiliate_id": affs[0]["id"], "limit": 2} | (
            {"cursor": cursor} if cursor else {}
        )
        page = (await api.get("/api/v1/partner-postbacks", params=params)).json()
        walked += [s["id"] for s in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert walked == [s["id"] for s in settings if s["affiliate_id"] == affs[0]["id"]]
    # Deliveries, newest first; three share one created_at, so the id breaks the tie.
    t = datetime(2026, 5, 1, tzinfo=UTC)
    made: list[tuple[datetime, uuid.UUID, int]] = []
    for k, (setting, at) in enumerate(zip(settings * 2, [t, t, t, t + timedelta(seconds=1)] * 2,
                                          strict=True)):  # fmt: skip
        ident = uuid.uuid4()
        await pool.execute(
            """INSERT INTO postback_outbox (id, postback_id, affiliate_id, conversion_id, event,
                   method, url, next_attempt_at, deliver_until, created_at)
               VALUES ($1, $2, $3, $4, 'approved', 'GET', 'https://x.example/', $5, $5, $5)""",
            ident, setting["id"], setting["affiliate_id"], uuid.uuid4(), at + timedelta(hours=k // 4),
        )  # fmt: skip
        made.append((at + timedelta(hours=k // 4), ident, setting["affiliate_id"]))
    token = (await create_key(pool, "affiliate", affiliate_id=affs[0]["id"])).token
    async with httpx.AsyncClient(
        base_url=service, headers={"Authorization": f"Bearer {token}"}
    ) as h:
        seen, cursor = [], None
        while True:
            page = (await h.get("/api/v1/deliveries",
                                params={"limit": 2} | ({"cursor": cursor} if cursor else {}))).json()  # fmt: skip
            seen += [uuid.UUID(d["id"]) for d in page["items"]]
            if (cursor := page["next_cursor"]) is None:
                break
    mine = sorted(((at, i) for at, i, a in made if a == affs[0]["id"]), reverse=True)
    assert seen == [i for _, i in mine] and len(seen) == 6
    r = await api.get("/api/v1/deliveries", params={"cursor": "c12"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "cursor"
