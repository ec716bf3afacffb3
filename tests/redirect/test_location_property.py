"""Whatever the visitor sends, the Location header is one well-formed, percent-encoded URL."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redirect.caps import ClickCaps
from redirect.catalog import CachedLink, offer_from_row
from redirect.front import RedirectFront
from redirect.links import LinkCache
from redirect.sink import ClickSink
from tests.redirect.helpers import make_link, make_offer
from tracker import redis_keys
from tracker.settings import Settings

MACROS = ["click_id", "aff_id", "offer_id", "link_code", "source", "country", "device",
          "timestamp", "p:name", "p:trk_x", *(f"sub{i}" for i in range(1, 11))]  # fmt: skip
TEMPLATE = (
    "https://shop.example/p/{sub1}?"
    + "&".join(f"m{i}={{{m}}}" for i, m in enumerate(MACROS))
    + "#frag"
)
PIECES = ["\r", "\n", "\x00", "%0d%0a", "%0D%0A", "\r\nLocation: https://evil.example", "\u2028",
          "\u2029", "\t", " ", "\\", "/", "//evil.example", "?", "#", "&", "=", "@", ":", "%",
          "+", "{sub1}", "é", "日", "\U0001f600", "a", "Z", "0"]  # fmt: skip
NASTY = st.lists(st.sampled_from(PIECES) | st.characters(codec="utf-8"), max_size=30).map("".join)


def _front(country: bytes) -> tuple[RedirectFront, ClickSink]:
    links = LinkCache(1.0)
    config = Settings.model_construct().model_copy(update={"country_header": "cf-ipcountry"})
    links._offers[7] = offer_from_row(
        {"id": 7, "landing_url": TEMPLATE, "status": "active", "attribution_window_days": 30}
    )
    links._links["code1"] = CachedLink(1, "code1", 7, 3, ("d1", None, None, None, None), True)
    links._affiliates[3] = True
    sink = ClickSink(["s"], 10_000, 20, 100_000)
    caps = ClickCaps(redis_keys.of(config), 0.1)
    return RedirectFront(None, links, sink, None, caps, config), sink


async def _location(value: str) -> tuple[str, list[dict[str, Any]]]:
    front, sink = _front(b"")
    query = {**{f"sub{i}": value for i in range(1, 11)}, "source": value, "name": value,
             "trk_x": value}  # fmt: skip
    qs = "&".join(f"{k}={quote(v, safe='')}" for k, v in query.items()).encode()
    ua = value.encode("utf-8", "replace")[:200]
    scope = {"type": "http", "method": "GET", "path": "/c/code1", "query_string": qs,
             "headers": [(b"user-agent", ua), (b"cf-ipcountry", ua[:2])],
             "client": ("203.0.113.9", 1)}  # fmt: skip
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await front(scope, None, send)
    assert sent[0]["status"] == 302
    [location] = [v for k, v in sent[0]["headers"] if k == b"location"]
    return location.decode("ascii"), sink.buffered_clicks()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(NASTY)
def test_every_macro_is_encoded_into_one_well_formed_location(value: str) -> None:
    location, events = asyncio.run(_location(value))
    assert all(0x21 <= ord(ch) < 0x7F for ch in location), location
    parts = urlsplit(location)
    assert (parts.scheme, parts.netloc, parts.fragment) == ("https", "shop.example", "frag")
    assert parts.path.count("/") == 2 and "?" not in parts.path
    q = parse_qs(parts.query, keep_blank_values=True)
    assert sorted(q) == sorted(f"m{i}" for i in range(len(MACROS))), location
    assert all(len(v) == 1 for v in q.values())  # no value added a parameter
    cropped = value[:255]
    for i, macro in enumerate(MACROS):
        got = q[f"m{i}"][0]
        if macro in ("source", "p:name") or (macro.startswith("sub") and macro != "sub1"):
            assert got == cropped, (macro, got)
    assert q["m10"] == [cropped or "d1"]  # sub1 falls back to the link's default
    assert q[f"m{MACROS.index('p:trk_x')}"] == [""]  # trk_* never reaches the landing page
    [event] = events
    assert q["m0"] == [event["click_id"]]


async def test_crlf_in_a_real_request_stays_encoded(service: str, api: httpx.AsyncClient) -> None:
    link = await make_link(api, await make_offer(api, landing_url=TEMPLATE))
    async with httpx.AsyncClient(base_url=service) as http:
        for raw in ("%0d%0aSet-Cookie:%20x=1", "%0D%0ALocation:%20https://evil.example",
                    "%E2%80%A8", "%00", "%25%30%64%25%30%61", "%C0%AE%C0%AE%2F"):  # fmt: skip
            r = await http.get(f"/c/{link['code']}?sub2={raw}&name={raw}&source={raw}")
            assert r.status_code == 302
            loc = r.headers["location"]
            assert urlsplit(loc).netloc == "shop.example" and "set-cookie" in r.headers
            assert "\r" not in loc and "\n" not in loc and "x=1" not in r.headers["set-cookie"]
