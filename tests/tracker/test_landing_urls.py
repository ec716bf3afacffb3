"""No open redirect through admin-set URLs (issue 17, docs/adr/0086).

The property: any landing or fallback URL the API accepts, with any macro values a
visitor sends, yields a Location whose host (as a WHATWG parser reads it) is the host
the admin configured (the template's own host, its macros left out). Checked in process
on the redirect's own code with many generated URLs and values, and through the real
API and redirect on a sample; the payloads of the report are refused with a 422 naming
the field.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import quote

import ada_url
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redirect.caps import ClickCaps
from redirect.catalog import CachedLink, offer_from_row
from redirect.front import RedirectFront
from redirect.links import LinkCache
from redirect.sink import ClickSink
from schemas.api import URL_PATTERN
from tests.redirect.helpers import make_link
from tracker import redis_keys
from tracker.domain import landing_urls
from tracker.settings import Settings

HOSTS = ["shop.example", "a.b.shop.example", "127.0.0.1", "[::1]", "xn--shp-ela.example",
         "shöp.example", "SHOP.Example", "shop.example.", "10.0.0.1"]  # fmt: skip
PORTS = ["", ":8443", ":443", ":80", ":"]
PIECES = ["/", "?", "#", "@", "\\", "{sub1}", "{p:x}", "{click_id}", "{sub2}", "evil.example",
          ".", ":", "%2f", "%40", "%5c", "//", "\t", "\r\n", " ", "é", "x", "=", "&", "{", "}",
          "%", "%2e", "user:pw@", "\x00", "\u3002"]  # fmt: skip
TEMPLATES = st.builds(
    lambda scheme, user, host, port, tail: f"{scheme}://{user}{host}{port}{''.join(tail)}",
    st.sampled_from(["https", "http"]),
    st.sampled_from(["", "", "", "user@", "{sub1}", "{sub1}.", "u:p@"]),
    st.sampled_from(HOSTS),
    st.sampled_from(PORTS),
    st.lists(st.sampled_from(PIECES), max_size=8),
)
VALUES = st.lists(st.sampled_from(["evil.example", "@evil.example", "//evil.example",
                                   "\\evil.example", ".evil.example", "%2f", "\r\n", ":1@x",
                                   "é", "?", "#", "/"]) | st.text(max_size=6),
                  max_size=4).map("".join)  # fmt: skip
PAYLOADS = [
    "https://{sub1}/x", "http://x{sub1}.example/", "https://shop.example{sub1}/",
    "https://shop.example@evil.com/", "https://shop.example\\@evil.com/",
    "https://shop.example/\tx", "https://shop.example/x\r\ny", "https://shop.example/\x00",
    "https://user:pw@shop.example/", "https://shop.example:99999/", "javascript:alert(1)",
    "https://shop.example%40evil.com/", "https:/shop.example/", "https://shop.example{p:h}/",
    "ftp://shop.example/", "https://sh op.example/",
]  # fmt: skip


def _configured(template: str) -> str | None:
    """The host the admin wrote: a WHATWG parse of the template with its macros left out."""
    try:
        return str(ada_url.parse_url(re.sub(r"\{[^{}]*\}", "", template))["host"])
    except ValueError:
        return None


async def _location(template: str, value: str, fallback: bool) -> str | None:
    """The Location the redirect's own code sends for one visitor, or None (no redirect)."""
    links = LinkCache(1.0)
    row = {"id": 7, "landing_url": "https://landing.example/", "status": "active",
           "attribution_window_days": 30}  # fmt: skip
    if fallback:
        row.update(status="paused", fallback_url=template)
    else:
        row["landing_url"] = template
    links._offers[7] = offer_from_row(row)
    links._links["code1"] = CachedLink(1, "code1", 7, 3, (), True)
    links._affiliates[3] = True
    config = Settings.model_construct()
    caps = ClickCaps(redis_keys.of(config), 0.1)
    front = RedirectFront(None, links, ClickSink(["s"], 10_000, 20, 100_000), None, caps, config)
    query = "&".join(f"{k}={quote(value, safe='')}" for k in ("sub1", "sub2", "x", "source"))
    scope = {"type": "http", "method": "GET", "path": "/c/code1", "query_string": query.encode(),
             "headers": [(b"user-agent", b"ua")], "client": ("203.0.113.9", 1)}  # fmt: skip
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await front(scope, None, send)
    found = [v for k, v in sent[0].get("headers", []) if k == b"location"]
    return found[0].decode("ascii") if found else None


def _host_sent(location: str) -> str:
    return str(ada_url.parse_url(location)["host"])


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEMPLATES, VALUES, st.booleans())
def test_an_accepted_url_keeps_its_host_whatever_the_macros(
    template: str, value: str, fallback: bool
) -> None:
    if landing_urls.problem(template) is not None:
        return
    assert re.fullmatch(URL_PATTERN, template), "the API accepts only what OpenAPI states"
    configured = _configured(template)
    assert configured, template
    location = asyncio.run(_location(template, value, fallback))
    assert location is not None, template
    assert _host_sent(location) == configured, (template, value, location)
    assert not re.search(r"[\x00-\x20\x7f-\uffff\\]", location), location


def test_the_payloads_of_the_report_are_refused() -> None:
    for url in PAYLOADS:
        assert landing_urls.problem(url) is not None, url
    with pytest.raises(ValueError, match="TRACKER_FALLBACK_URL"):
        Settings(fallback_url="https://shop.example\\@evil.com/")
    assert Settings(fallback_url="https://fallback.example/?s={sub1}").fallback_url


async def test_the_api_and_the_redirect_keep_the_configured_host(
    service: str, api: httpx.AsyncClient
) -> None:
    adv = (await api.post("/api/v1/advertisers", json={"name": "Shop"})).json()
    for url in PAYLOADS:
        for field in ("landing_url", "fallback_url"):
            body = {"advertiser_id": adv["id"], "name": "o",
                    "landing_url": "https://shop.example/", field: url}  # fmt: skip
            r = await api.post("/api/v1/offers", json=body)
            assert r.status_code == 422 and r.json()["error"]["field"] == field, (url, r.text)
        ok = await api.post("/api/v1/offers", json={"advertiser_id": adv["id"], "name": "o",
                                                    "landing_url": "https://shop.example/"})  # fmt: skip
        r = await api.patch(f"/api/v1/offers/{ok.json()['id']}", json={"fallback_url": url})
        assert r.status_code == 422 and r.json()["error"]["field"] == "fallback_url", url

    # A sample of generated URLs through the real API and redirect.
    sample: list[tuple[str, str]] = []

    @settings(max_examples=80, deadline=None, database=None)
    @given(TEMPLATES, VALUES)
    def collect(template: str, value: str) -> None:
        sample.append((template, value))

    collect()
    accepted = 0
    async with httpx.AsyncClient(base_url=service) as visitor:
        for sent, value in sample:
            r = await api.post("/api/v1/offers", json={
                "advertiser_id": adv["id"], "name": "o", "landing_url": sent})  # fmt: skip
            template = sent.strip()  # the API strips surrounding whitespace, as from every text
            if landing_urls.problem(template) is not None or r.status_code == 422:
                assert r.status_code == 422, (template, r.text)
                assert r.json()["error"]["field"] == "landing_url"
                continue
            assert r.status_code == 201, (template, r.text)
            accepted += 1
            link = await make_link(api, r.json())
            got = await visitor.get(f"/c/{link['code']}",
                                    params={"sub1": value, "sub2": value, "x": value})  # fmt: skip
            assert got.status_code == 302, (template, got.text)
            assert _host_sent(got.headers["location"]) == _configured(template), template
    assert accepted >= 5, f"only {accepted} of {len(sample)} generated URLs were accepted"
