"""The redirect against real servers: link forms, parameters, cookie, states, pixel."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

import httpx
from redis.asyncio import Redis

from schemas.events import ClickEvent
from tests.redirect.helpers import CHROME, make_link, make_offer, stream_events
from tracker.settings import Settings

LANDING = (
    "https://shop.example/l?cid={click_id}&a={aff_id}&o={offer_id}&lc={link_code}&s1={sub1}"
    "&s10={sub10}&src={source}&c={p:color}&t={p:trk_secret}&d={device}&ts={timestamp}&x={nope}"
)


async def test_short_link_fills_every_macro_and_records_the_click(
    service: str, api: httpx.AsyncClient, redis: Redis, settings: Settings
) -> None:
    offer = await make_offer(api, landing_url=LANDING)
    link = await make_link(api, offer, sub2="default2")
    query = {"sub1": "a b&c", "sub10": "ten", "source": "news", "color": "red/blue",
             "trk_secret": "s", "other": "x" * 300}  # fmt: skip
    async with httpx.AsyncClient(base_url=service, headers={"User-Agent": CHROME}) as http:
        r = await http.get(f"/c/{link['code']}", params=query)
    assert r.status_code == 302
    loc = urlsplit(r.headers["location"])
    q = parse_qs(loc.query, keep_blank_values=True)
    cid = q["cid"][0]
    assert UUID(cid).version == 7
    assert q["a"] == [str(link["affiliate_id"])] and q["o"] == [str(offer["id"])]
    assert q["lc"] == [link["code"]] and q["s1"] == ["a b&c"] and q["s10"] == ["ten"]
    assert q["src"] == ["news"] and q["c"] == ["red/blue"] and q["d"] == ["desktop"]
    assert q["t"] == [""] and q["x"] == [""]  # trk_* never reaches the landing page
    assert abs(int(q["ts"][0]) - datetime.now(UTC).timestamp()) < 60
    assert "%2F" in r.headers["location"]  # '/' in a value is encoded

    [event] = await stream_events(redis, settings, 1)
    ev = ClickEvent.model_validate(event)  # exactly the wire format v1
    assert str(ev.click_id) == cid and ev.kind == "click" and ev.cls == "human"
    assert ev.link_id == link["id"] and ev.offer_id == offer["id"]
    assert ev.subs[0] == "a b&c" and ev.subs[1] == "default2" and ev.subs[9] == "ten"
    assert ev.source == "news" and ev.params["color"] == "red/blue"
    assert ev.params["trk_secret"] == "s" and len(ev.params["other"]) == 255  # cropped


async def test_cookie_carries_the_click_id_unless_cookieless(
    service: str, api: httpx.AsyncClient
) -> None:
    offer = await make_offer(api, attribution_window_days=7)
    link = await make_link(api, offer)
    quiet = await make_link(api, await make_offer(api, cookieless=True))
    async with httpx.AsyncClient(base_url=service, headers={"User-Agent": CHROME}) as http:
        r = await http.get(f"/c/{link['code']}")
        cookie = r.headers["set-cookie"]
        cid = parse_qs(urlsplit(r.headers["location"]).query)["cid"][0]
        assert cookie.startswith(f"trk_cid={cid};")
        for part in ("Max-Age=604800", "Secure", "HttpOnly", "SameSite=None", "Path=/"):
            assert part in cookie
        r2 = await http.get(f"/c/{quiet['code']}")
        assert r2.status_code == 302 and "set-cookie" not in r2.headers


async def test_click_form_with_offer_and_affiliate(
    service: str, api: httpx.AsyncClient, redis: Redis, settings: Settings
) -> None:
    offer = await make_offer(api)
    link = await make_link(api, offer)
    aff = link["affiliate_id"]
    async with httpx.AsyncClient(base_url=service, headers={"User-Agent": CHROME}) as http:
        r = await http.get("/click", params={"offer_id": offer["id"], "aff_id": aff, "sub1": "p"})
        assert r.status_code == 302
        assert parse_qs(urlsplit(r.headers["location"]).query)["s1"] == ["p"]
        for bad in ({"offer_id": offer["id"]}, {"offer_id": "x", "aff_id": aff},
                    {"offer_id": offer["id"], "aff_id": 10**9}, {"offer_id": 10**9, "aff_id": aff}):  # fmt: skip
            assert (await http.get("/click", params=bad)).status_code == 404
    [event] = await stream_events(redis, settings, 1)
    assert event["link_id"] is None and event["link_code"] == "" and event["aff_id"] == aff


async def test_every_hit_is_classified_and_head_is_answered(
    service: str, api: httpx.AsyncClient, redis: Redis, settings: Settings
) -> None:
    link = await make_link(api, await make_offer(api))
    path = f"/c/{link['code']}"
    async with httpx.AsyncClient(base_url=service) as http:
        head = await http.head(path, headers={"User-Agent": CHROME})
        assert head.status_code == 302 and head.headers["location"].startswith("https://")
        await http.get(path, headers={"User-Agent": CHROME, "Sec-Purpose": "prefetch"})
        await http.get(path, headers={"User-Agent": "Twitterbot/1.0"})
        await http.get(path, headers={"User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1)"})
        await http.get(path, headers={"User-Agent": ""})
        await http.get(path, headers={"User-Agent": CHROME})
    events = await stream_events(redis, settings, 6)
    assert sorted(e["cls"] for e in events) == sorted(
        ["head", "prefetch", "preview", "bot", "bot", "human"]
    )


async def test_impression_pixel_records_an_impression(
    service: str, api: httpx.AsyncClient, redis: Redis, settings: Settings
) -> None:
    link = await make_link(api, await make_offer(api))
    async with httpx.AsyncClient(base_url=service, headers={"User-Agent": CHROME}) as http:
        r = await http.get(f"/i/{link['code']}", params={"sub1": "banner"})
        assert r.status_code == 200 and r.headers["content-type"] == "image/gif"
        assert r.content.startswith(b"GIF89a") and len(r.content) == 43
        assert "no-store" in r.headers["cache-control"] and "set-cookie" not in r.headers
        unknown = await http.get("/i/nope-nope")
        assert unknown.status_code == 200 and unknown.content.startswith(b"GIF89a")
    [event] = await stream_events(redis, settings, 1)
    assert event["kind"] == "impression" and event["subs"][0] == "banner"


async def test_offer_states_and_changes_reach_the_redirect_within_two_seconds(
    service: str, api: httpx.AsyncClient
) -> None:
    offer = await make_offer(api, fallback_url="https://fallback.example/?a={aff_id}&c={click_id}")
    link = await make_link(api, offer)
    path = f"/c/{link['code']}"

    async def until(predicate_status: int, location_prefix: str = "") -> httpx.Response:
        t0 = asyncio.get_running_loop().time()
        async with httpx.AsyncClient(base_url=service, headers={"User-Agent": CHROME}) as http:
            while True:
                r = await http.get(path)
                loc = r.headers.get("location", "")
                if r.status_code == predicate_status and loc.startswith(location_prefix):
                    assert asyncio.get_running_loop().time() - t0 < 2.0
                    return r
                assert asyncio.get_running_loop().time() - t0 < 2.0, (r.status_code, loc)
                await asyncio.sleep(0.05)

    await until(302, "https://shop.example/")
    assert (
        await api.patch(f"/api/v1/offers/{offer['id']}", json={"status": "paused"})
    ).status_code == 200
    r = await until(302, "https://fallback.example/")
    assert r.headers["location"] == f"https://fallback.example/?a={link['affiliate_id']}&c="
    await api.patch(f"/api/v1/offers/{offer['id']}", json={"fallback_url": None})
    r = await until(404)
    assert b"Offer unavailable" in r.content and "location" not in r.headers
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    await api.patch(f"/api/v1/offers/{offer['id']}", json={"status": "active", "expires_at": past})
    r = await until(410)
    assert b"Offer ended" in r.content
    await api.patch(f"/api/v1/offers/{offer['id']}", json={"expires_at": None})
    await until(302, "https://shop.example/")
    assert (
        await api.patch(f"/api/v1/links/{link['id']}", json={"status": "paused"})
    ).status_code == 200
    await until(404)
    await api.patch(f"/api/v1/links/{link['id']}", json={"status": "active"})
    await until(302, "https://shop.example/")


async def test_click_cap_sends_visitors_to_the_fallback(
    service: str, api: httpx.AsyncClient, redis: Redis, settings: Settings
) -> None:
    offer = await make_offer(api, daily_click_cap=5, fallback_url="https://full.example/")
    link = await make_link(api, offer)
    await asyncio.sleep(settings.link_refresh_s * 2)  # counted once: room 5
    async with httpx.AsyncClient(base_url=service, headers={"User-Agent": CHROME}) as http:
        firsts = [await http.get(f"/c/{link['code']}") for _ in range(8)]
        landed = [r.headers["location"].startswith("https://shop.example/") for r in firsts]
        # Never over the cap; a count taken while a batch lands may close it early
        # until the next count (docs/adr/0012), so the exact total shows after that.
        assert sum(landed) <= 5 and landed[:4] == [True] * 4
        await asyncio.sleep(settings.link_refresh_s * 3)
        more = [await http.get(f"/c/{link['code']}") for _ in range(3)]
        landed += [r.headers["location"].startswith("https://shop.example/") for r in more]
        assert sum(landed) == 5 and not landed[-1]
        assert more[-1].headers["location"] == "https://full.example/"
    assert len(await stream_events(redis, settings, 5)) == 5  # fallbacks are not clicks


async def test_pass_params_appends_custom_parameters_but_not_trk(
    service: str, api: httpx.AsyncClient
) -> None:
    offer = await make_offer(api, landing_url="https://shop.example/l?cid={click_id}#top",
                             pass_params=True)  # fmt: skip
    link = await make_link(api, offer)
    async with httpx.AsyncClient(base_url=service, headers={"User-Agent": CHROME}) as http:
        r = await http.get(
            f"/c/{link['code']}", params={"utm_source": "a&b", "trk_x": "1", "sub1": "s"}
        )
    loc = r.headers["location"]
    assert loc.endswith("&utm_source=a%26b#top") and "trk_x" not in loc and "sub1" not in loc


async def test_api_validates_offer_settings(api: httpx.AsyncClient) -> None:
    offer = await make_offer(api)
    for body in ({"deep_link_domains": ["evil.com/x"]}, {"fallback_url": "javascript:alert(1)"},
                 {"daily_click_cap": 0}, {"status": "gone"}, {"attribution_window_days": 0}):  # fmt: skip
        r = await api.patch(f"/api/v1/offers/{offer['id']}", json=body)
        assert r.status_code == 422, (body, r.text)
    r = await api.patch(f"/api/v1/offers/{offer['id']}",
                        json={"deep_links": True, "deep_link_domains": ["Shop.Example."]})  # fmt: skip
    assert r.status_code == 200 and r.json()["deep_link_domains"] == ["shop.example"]
    assert (await api.patch("/api/v1/offers/999999999", json={})).status_code == 404
    assert (await api.patch("/api/v1/links/999999999", json={})).status_code == 404
