"""Traffic truth on the redirect (issue 19): real client addresses, {country} from the GeoIP
database, traffic rules (block and flag), click caps that count only paid clicks and never
overshoot a burst, and the /click form that pays only partners who run the offer.

The service is the real app on a loopback port, with GeoIP and ASN databases built here,
and 127.0.0.1 as the trusted proxy, so each request can say which client it stands for.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from loadtests.ingest.data import build_asn_db, build_geo_db
from tests.redirect.helpers import CHROME, make_link, make_offer, stream_events
from tracker.settings import Settings

GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
SLACK = "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"
FALLBACK = "https://fallback.example/"


@pytest.fixture
def netdbs(settings: Settings, tmp_path: Path) -> Settings:
    """GeoIP and ASN databases, and the loopback as the proxy in front (before `service`)."""
    settings.geoip_db = build_geo_db(tmp_path / "geo.mmdb")
    settings.asn_db = build_asn_db(tmp_path / "asn.mmdb", [
        ("10.1.0.0/16", 16509, "AMAZON-02"), ("10.2.0.0/16", 3320, "Deutsche Telekom AG"),
    ])  # fmt: skip
    settings.trusted_proxies = ["127.0.0.1/32"]
    return settings


async def _get(service: str, path: str, client: str = "", ua: str = CHROME,
               **headers: str) -> httpx.Response:  # fmt: skip
    h = {"User-Agent": ua, **headers}
    if client:
        h["X-Forwarded-For"] = client
    async with httpx.AsyncClient(base_url=service, headers=h) as http:
        return await http.get(path)


def _by_ip(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["ip"]: e for e in events}


async def test_client_address_country_macro_and_spoofing(
    netdbs: Settings, service: str, api: httpx.AsyncClient, redis: Redis
) -> None:
    offer = await make_offer(api, landing_url="https://shop.example/l?c={country}&cid={click_id}")
    link = await make_link(api, offer)
    path = f"/c/{link['code']}"
    # behind the trusted proxy: the right-most address that is not a trusted proxy
    r = await _get(service, path, "10.9.9.9, 10.2.0.7, 127.0.0.1")
    assert r.headers["location"].startswith("https://shop.example/l?c=DE&"), r.headers["location"]
    r = await _get(service, path, "", Forwarded='for="10.3.1.1:4711";proto=https')
    assert r.headers["location"].startswith("https://shop.example/l?c=FR&")
    r = await _get(service, path, "garbage, 10.4.0.1")
    assert r.headers["location"].startswith("https://shop.example/l?c=BR&")
    events = _by_ip(await stream_events(redis, netdbs, 3))
    assert set(events) == {"10.2.0.7", "10.3.1.1", "10.4.0.1"}


async def test_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(
    settings: Settings, service: str, api: httpx.AsyncClient, redis: Redis
) -> None:
    offer = await make_offer(api)
    link = await make_link(api, offer)
    await _get(service, f"/c/{link['code']}", "10.2.0.7", Forwarded="for=10.3.0.1")
    [event] = await stream_events(redis, settings, 1)
    assert event["ip"] == "127.0.0.1"  # the peer: nobody was told to trust a proxy


async def test_traffic_rules_block_to_the_fallback_and_flag(
    netdbs: Settings, service: str, api: httpx.AsyncClient, redis: Redis
) -> None:
    offer = await make_offer(api, fallback_url=FALLBACK + "?o={offer_id}&c={country}")
    link = await make_link(api, offer)
    other = await make_link(api, offer)  # another partner: only the offer-wide rules apply
    rules = [
        {"offer_id": offer["id"], "ip_blocklist": ["10.3.0.0/24"], "ua_blocklist": ["EvilAgent"],
         "sub_blocklist": {"sub2": ["Spam-Site"]}},
        {"offer_id": offer["id"], "affiliate_id": link["affiliate_id"], "datacenter": "block"},
        {"offer_id": offer["id"], "affiliate_id": other["affiliate_id"], "datacenter": "flag"},
    ]  # fmt: skip
    ids = []
    for body in rules:
        r = await api.post("/api/v1/traffic-rules", json=body)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    await asyncio.sleep(netdbs.link_refresh_s * 3)
    code, code2 = f"/c/{link['code']}", f"/c/{other['code']}"
    cases = [  # (path, client, agent, sub2, blocked by)
        (code, "10.3.0.9", CHROME, "", f"ip#{ids[0]}"),
        (code, "10.2.0.10", "Mozilla/5.0 evilagent/1.0", "", f"agent#{ids[0]}"),
        (code, "10.2.0.11", CHROME, "spam-site", f"sub2#{ids[0]}"),
        (code, "10.1.2.3", CHROME, "", f"datacenter#{ids[1]}"),  # AWS, this partner blocks
        (code2, "10.1.2.4", CHROME, "", ""),  # AWS, the other partner's rule flags it
        (code, "10.2.0.12", CHROME, "ok", ""),
    ]
    for path, client, ua, sub2, rule in cases:
        r = await _get(service, f"{path}?sub2={sub2}", client, ua)
        landed = r.headers["location"].startswith("https://shop.example/")
        assert landed == (not rule), (client, r.headers["location"])
        if rule:
            assert r.headers["location"].startswith(FALLBACK + f"?o={offer['id']}&c=")
    events = _by_ip(await stream_events(redis, netdbs, len(cases)))
    for _path, client, _ua, _sub2, rule in cases:
        e = events[client]
        assert (e["cls"], e["rule"]) == (("blocked", rule) if rule else ("human", "")) or (
            client == "10.1.2.4" and (e["cls"], e["rule"]) == ("human", f"flag:datacenter#{ids[2]}")
        ), e
    # archived: the rule stops at the next refresh
    assert (await api.post(f"/api/v1/traffic-rules/{ids[0]}/archive")).status_code == 200
    await asyncio.sleep(netdbs.link_refresh_s * 3)
    r = await _get(service, code, "10.3.0.9")
    assert r.headers["location"].startswith("https://shop.example/")


async def test_traffic_rule_input_is_checked(api: httpx.AsyncClient) -> None:
    offer = await make_offer(api)
    bad = [
        ({"offer_id": offer["id"], "ip_blocklist": ["10.0.0.0/33"]}, "ip_blocklist"),
        ({"offer_id": offer["id"], "datacenter": "maybe"}, "datacenter"),
        ({"offer_id": offer["id"], "sub_blocklist": {"sub11": ["x"]}}, "sub_blocklist"),
        ({"offer_id": 999_999_999}, "offer_id"),
        ({"ua_blocklist": ["ab"]}, "ua_blocklist"),
    ]
    for body, field in bad:
        r = await api.post("/api/v1/traffic-rules", json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["error"]["field"].split(".")[0] == field, r.text


async def test_a_burst_on_a_fresh_offer_never_overshoots_and_only_humans_count(
    service: str, api: httpx.AsyncClient, redis: Redis, settings: Settings
) -> None:
    offer = await make_offer(api, daily_click_cap=2, fallback_url=FALLBACK)
    link = await make_link(api, offer)
    path = f"/c/{link['code']}"
    # no wait after creating it: the first burst is the one that used to pass (5 of 5)
    burst = await asyncio.gather(*(_get(service, path, ua=CHROME) for _ in range(5)))
    landed = [r.headers["location"].startswith("https://shop.example/") for r in burst]
    assert sum(landed) == 2, [r.headers["location"] for r in burst]
    # the cap is full: unpaid classes take no place and follow the offer's state
    assert (await _get(service, path, ua=GOOGLEBOT)).headers["location"] == FALLBACK

    fresh = await make_offer(api, daily_click_cap=2, fallback_url=FALLBACK)
    flink = await make_link(api, fresh)
    fpath = f"/c/{flink['code']}"
    for ua, headers in ((GOOGLEBOT, {}), (SLACK, {}), (CHROME, {"Sec-Purpose": "prefetch"})):
        r = await _get(service, fpath, ua=ua, **headers)
        assert r.headers["location"].startswith("https://shop.example/"), ua
    async with httpx.AsyncClient(base_url=service, headers={"User-Agent": CHROME}) as http:
        assert (await http.head(fpath)).status_code == 302
    humans = await asyncio.gather(*(_get(service, fpath) for _ in range(4)))
    assert sum(r.headers["location"].startswith("https://shop.example/") for r in humans) == 2


async def test_the_click_form_pays_only_partners_who_run_the_offer(
    service: str, api: httpx.AsyncClient, redis: Redis, settings: Settings
) -> None:
    offer = await make_offer(api, fallback_url=FALLBACK + "?a={aff_id}")
    link = await make_link(api, offer)
    stranger = (await api.post("/api/v1/affiliates", json={"name": "Stranger"})).json()
    ok = await _get(service, f"/click?offer_id={offer['id']}&aff_id={link['affiliate_id']}")
    assert ok.headers["location"].startswith("https://shop.example/")
    r = await _get(service, f"/click?offer_id={offer['id']}&aff_id={stranger['id']}")
    assert r.headers["location"] == FALLBACK + f"?a={stranger['id']}"
    events = {e["aff_id"]: e for e in await stream_events(redis, settings, 2)}
    assert (events[link["affiliate_id"]]["cls"], events[link["affiliate_id"]]["rule"]) == (
        "human",
        "",
    )
    assert (events[stranger["id"]]["cls"], events[stranger["id"]]["rule"]) == (
        "blocked", "partner_not_on_offer"
    )  # fmt: skip
    # a link made later makes the partner one who runs it
    r = await api.post(
        "/api/v1/links", json={"offer_id": offer["id"], "affiliate_id": stranger["id"]}
    )
    assert r.status_code == 201
    await asyncio.sleep(settings.link_refresh_s * 3)
    r = await _get(service, f"/click?offer_id={offer['id']}&aff_id={stranger['id']}")
    assert r.headers["location"].startswith("https://shop.example/")
