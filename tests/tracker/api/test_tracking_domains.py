"""Tracking domains through the API (issue 18): registration and its rules, and the links,
pixels and SDK snippets handed out on the right domain."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest

from tests.conftest import create_world
from tracker.api import sdk_script
from tracker.store.keys import create_key


@pytest.fixture
async def no_domains(pool: asyncpg.Pool) -> AsyncIterator[None]:
    await pool.execute("DELETE FROM tracking_domains")
    yield
    await pool.execute("DELETE FROM tracking_domains")


async def test_register_list_read_and_remove(api: httpx.AsyncClient, no_domains: None) -> None:
    w = await create_world(api)
    adv, aff = w["advertiser"]["id"], w["affiliate"]["id"]
    bodies = [{"scope": "network", "hostname": "go.network.example"},
              {"scope": "advertiser", "hostname": "track.shop.example", "advertiser_id": adv},
              {"scope": "partner", "hostname": "links.partner.example", "affiliate_id": aff}]  # fmt: skip
    made = []
    for body in bodies:
        r = await api.post("/api/v1/tracking-domains", json=body)
        assert r.status_code == 201, r.text
        made.append(r.json())
        assert {k: made[-1][k] for k in body} == body
    again = await api.post("/api/v1/tracking-domains", json=bodies[0])
    assert again.status_code == 409 and again.json()["error"]["field"] == "hostname"
    bad = [
        ({"scope": "network", "hostname": "Go.Network.Example"}, "network.hostname"),  # lower case only
        ({"scope": "network", "hostname": "10.0.0.1"}, "network.hostname"),
        ({"scope": "network", "hostname": "t.example:8443"}, "network.hostname"),
        ({"scope": "network", "hostname": "https://t.example"}, "network.hostname"),
        ({"scope": "network", "hostname": "t.example", "advertiser_id": adv}, "network.advertiser_id"),
        ({"scope": "advertiser", "hostname": "t.example"}, "advertiser.advertiser_id"),
        ({"scope": "planet", "hostname": "t.example"}, None),
    ]  # fmt: skip
    for body, field in bad:
        r = await api.post("/api/v1/tracking-domains", json=body)
        assert r.status_code == 422, (body, r.text)
        if field:
            assert field in {e["field"] for e in r.json()["errors"]}, (body, r.json())
    missing = await api.post("/api/v1/tracking-domains", json={
        "scope": "advertiser", "hostname": "t.example", "advertiser_id": 999_999_999})  # fmt: skip
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "advertiser_id"

    # A TLS front asks before it gets a certificate (Caddy's on_demand_tls ask), by address.
    async with httpx.AsyncClient(base_url=str(api.base_url), timeout=10) as edge:
        for name, status in (("track.shop.example", 200), ("TRACK.shop.example.", 200),
                             ("127.0.0.1", 200), ("points-here.example", 404)):  # fmt: skip
            r = await edge.get("/tls-check", params={"domain": name},
                               headers={"Host": "10.1.2.3:8000"})  # fmt: skip
            assert r.status_code == status, (name, r.text)
    listed = (await api.get("/api/v1/tracking-domains")).json()["items"]
    assert [d["hostname"] for d in listed] == [b["hostname"] for b in bodies]
    mine = (await api.get("/api/v1/tracking-domains", params={"advertiser_id": adv})).json()
    assert [d["hostname"] for d in mine["items"]] == ["track.shop.example"]
    one = await api.get(f"/api/v1/tracking-domains/{made[2]['id']}")
    assert one.json() == made[2]
    assert (await api.delete(f"/api/v1/tracking-domains/{made[2]['id']}")).status_code == 204
    assert (await api.delete(f"/api/v1/tracking-domains/{made[2]['id']}")).status_code == 404
    assert (await api.get(f"/api/v1/tracking-domains/{made[2]['id']}")).status_code == 404


async def test_links_pixels_and_the_sdk_go_out_on_the_right_domain(
    service: str, api: httpx.AsyncClient, pool: asyncpg.Pool, no_domains: None
) -> None:
    w = await create_world(api, "https://shop.example/l?cid={click_id}&s={sub1}")
    adv, aff, offer, link = w["advertiser"], w["affiliate"], w["offer"], w["link"]
    port = urlsplit(service).port
    url = f"/api/v1/links/{link['id']}"
    assert (await api.get(url)).json()["url"] == f"{service}/c/{link['code']}"  # none: our own

    async def register(body: dict[str, object]) -> None:
        assert (await api.post("/api/v1/tracking-domains", json=body)).status_code == 201

    await register({"scope": "network", "hostname": "go.network.example"})
    assert (await api.get(url)).json()[
        "url"
    ] == f"http://go.network.example:{port}/c/{link['code']}"
    await register(
        {"scope": "partner", "hostname": "links.partner.example", "affiliate_id": aff["id"]}
    )
    assert (await api.get(url)).json()["url"].startswith(f"http://links.partner.example:{port}/")
    await register({"scope": "advertiser", "hostname": "track.shop.example",
                    "advertiser_id": adv["id"]})  # fmt: skip
    got = (await api.get(url)).json()
    on = f"http://track.shop.example:{port}"
    assert (got["url"], got["impression_url"]) == (
        f"{on}/c/{link['code']}",
        f"{on}/i/{link['code']}",
    )
    listed = (await api.get("/api/v1/links", params={"offer_id": offer["id"]})).json()["items"]
    assert [x["url"] for x in listed] == [got["url"]]

    r = await api.put(f"/api/v1/offers/{offer['id']}/conversion-settings",
                      json={"attribution_window_days": 45, "browser_origins": ["https://shop.example"]})  # fmt: skip
    assert r.status_code == 200, r.text
    sdk = (await api.get(f"/api/v1/offers/{offer['id']}/sdk")).json()
    assert sdk["tracking_domain"] == "track.shop.example"
    assert sdk["script_url"] == f"{on}{sdk_script.PATH}"
    assert sdk["snippet"] == (f'<script src="{on}{sdk_script.PATH}" data-offer="{offer["id"]}" '
                              'data-param="cid" data-days="45" async></script>')  # fmt: skip
    assert sdk["conversion_url"] == f"{on}/sdk/offers/{offer['id']}/conversions"
    assert sdk["pixel_url"].startswith(f"{on}/pixel?advertiser_id={adv['id']}&txn_id=")
    assert (sdk["click_param"], sdk["attribution_window_days"]) == ("cid", 45)
    assert sdk["browser_origins"] == ["https://shop.example"]

    # The advertiser reads its own offer's snippet; a partner key none.
    own = await create_key(pool, "advertiser", advertiser_id=adv["id"])
    partner = await create_key(pool, "affiliate", affiliate_id=aff["id"])
    async with httpx.AsyncClient(base_url=service, timeout=10) as http:
        r = await http.get(f"/api/v1/offers/{offer['id']}/sdk",
                           headers={"Authorization": f"Bearer {own.token}"})  # fmt: skip
        assert r.status_code == 200 and r.json()["snippet"] == sdk["snippet"]
        r = await http.get(f"/api/v1/offers/{offer['id']}/sdk",
                           headers={"Authorization": f"Bearer {partner.token}"})  # fmt: skip
        assert r.status_code == 403
