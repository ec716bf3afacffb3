"""No open redirect: a deep link goes only to an allowlisted host, anything else to the landing URL."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest

from redirect.deeplink import check_deep_link
from tests.redirect.helpers import CHROME, make_link, make_offer

ALLOWED = ("shop.example", "partner.example")
LANDING_HOST = "landing.example"

# Every payload must be refused (the visitor lands on the offer's landing URL).
HOSTILE = [
    "//evil.com", "///evil.com", "////evil.com", "/\\evil.com", "\\\\evil.com", "\\/evil.com",
    "https:evil.com", "https:/evil.com", "https:\\\\evil.com", "https:/\\evil.com",
    "http://evil.com", "https://evil.com", "https://evil.com/shop.example",
    "https://shop.example@evil.com", "https://shop.example:443@evil.com", "https://a@evil.com",
    "https://user:pass@shop.example/", "https://evil.com#@shop.example", "https://evil.com?@shop.example",
    "https://evil.com\\@shop.example", "https://evil.com\\.shop.example", "https://shop.example\\@evil.com",
    "https://evilshop.example", "https://shop.example.evil.com", "https://shop.exampleevil.com",
    "https://shop.example.com", "https://shop-example.com", "https://xshop.example",
    "https://shop.examp1e", "https://shop.exam%70le", "https://shop%2eexample",
    "https://evil.com%2f%2fshop.example", "%2f%2fevil.com", "%2F%2Fevil.com", "/%2f%2fevil.com",
    "%5c%5cevil.com", "https%3a%2f%2fevil.com", "ht\ttps://evil.com", "h\nttps://evil.com",
    "https\r://evil.com", "https://evil.com\r\nLocation: https://evil.com", "\thttps://shop.example",
    " https://shop.example", "https://shop.example\x00.evil.com", "https://shop.example%00.evil.com",
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", "javascript://shop.example/%0aalert(1)",
    "data:text/html,<script>alert(1)</script>", "data:text/html;base64,PHNjcmlwdD4=",
    "vbscript:msgbox(1)", "file:///etc/passwd", "ftp://shop.example/", "gopher://shop.example",
    "ws://shop.example", "//shop.example", "shop.example", "/shop.example", "./evil.com",
    "https://shоp.example", "https://xn--shp-ltd.example", "https://shop.example..", "https://.shop.example",
    "https://shop..example", "https://[::1]/", "https://127.0.0.1/", "https://2130706433/",
    "https://shop.example:99999/", "https://shop.example:0/", "https://shop.example:/x:@evil.com",
    "https://shop.example%40evil.com", "https://evil.com/\u2028shop.example",
    "https://shop.example\u3002evil.com", "https://evil.com\uff0eshop.example",
    "https:///evil.com", "https:////evil.com", "https://\\evil.com", "https://shop.example\\evil.com",
    "https://partner.example.evil.com/", "https://evil.partner.examp1e/", "\u202ehttps://shop.example",
    "https://shop.example" + "/x" * 2100,
]  # fmt: skip

# Allowed: exact hosts, proper subdomains, any case, with port, path, query and fragment.
FRIENDLY = [
    ("https://shop.example", "shop.example"),
    ("https://shop.example/p/1?a=b#frag", "shop.example"),
    ("HTTPS://SHOP.EXAMPLE/Item", "shop.example"),
    ("http://www.shop.example/x", "www.shop.example"),
    ("https://a.b.partner.example:8443/deep?x=1", "a.b.partner.example"),
    ("https://shop.example?q=1", "shop.example"),
    ("https://shop.example/a<c>\"d'{x}", "shop.example"),
]


def _host_ok(location: str) -> bool:
    assert all(0x21 <= ord(ch) < 0x7F for ch in location), location
    assert location.startswith(("https://", "http://")), location
    parts = urlsplit(location)
    host = parts.hostname or ""
    assert "@" not in parts.netloc and "\\" not in location
    return host == LANDING_HOST or any(host == d or host.endswith("." + d) for d in ALLOWED)


def test_there_are_enough_payloads() -> None:
    assert len(HOSTILE) >= 60 and len(set(HOSTILE)) == len(HOSTILE)


@pytest.mark.parametrize("payload", HOSTILE)
def test_hostile_deep_links_are_refused(payload: str) -> None:
    assert check_deep_link(payload, ALLOWED) is None


@pytest.mark.parametrize(("url", "host"), FRIENDLY)
def test_allowlisted_deep_links_pass_made_header_safe(url: str, host: str) -> None:
    out = check_deep_link(url, ALLOWED)
    assert out is not None and urlsplit(out).hostname == host and _host_ok(out)


def test_no_allowlist_means_no_deep_links() -> None:
    assert check_deep_link("https://shop.example/", ()) is None


async def test_no_payload_leaves_the_configured_destinations(
    service: str, api: httpx.AsyncClient
) -> None:
    offer = await make_offer(api, landing_url=f"https://{LANDING_HOST}/l?cid={{click_id}}&u={{p:u}}",
                             deep_links=True, deep_link_domains=list(ALLOWED))  # fmt: skip
    link = await make_link(api, offer)
    closed = await make_link(api, await make_offer(api, deep_links=False,
                                                   deep_link_domains=list(ALLOWED)))  # fmt: skip
    async with httpx.AsyncClient(base_url=service, headers={"User-Agent": CHROME}) as http:
        for payload in HOSTILE:
            for name in ("url", "u"):
                r = await http.get(f"/c/{link['code']}", params={name: payload})
                assert r.status_code == 302, payload
                loc = r.headers["location"]
                assert _host_ok(loc), (payload, loc)
                assert urlsplit(loc).hostname == LANDING_HOST, (payload, loc)
            # Raw in the query string too, as a crafted link would carry it: decoding it once
            # may turn it into an allowed URL (shop.exam%70le), never into another host.
            raw = payload.replace("&", "%26").replace("#", "%23").replace(" ", "%20")
            raw = "".join(ch if 0x21 <= ord(ch) < 0x7F else f"%{ord(ch):02X}" if ord(ch) < 256
                          else ch.encode().hex() for ch in raw)  # fmt: skip
            r = await http.get(f"/c/{link['code']}?url={raw}")
            assert r.status_code == 302 and _host_ok(r.headers["location"]), payload
        for url, host in FRIENDLY:
            r = await http.get(f"/c/{link['code']}", params={"url": url})
            assert urlsplit(r.headers["location"]).hostname == host and _host_ok(
                r.headers["location"]
            )
            r = await http.get(f"/c/{closed['code']}", params={"url": url})
            assert urlsplit(r.headers["location"]).hostname == "shop.example"  # its landing URL
            assert "cid=" in r.headers["location"]
