"""No open redirect, as real browsers read the Location (issue 17, docs/adr/0086).

tests/tracker/test_landing_urls.py checks the property with a WHATWG parser (ada-url)
on many generated URLs. Here the same promise meets the parsers it is about: Chromium
and Firefox ESR follow ``/c/{code}`` of offers whose landing and fallback URLs the API
accepted, with hostile macro values a visitor picks, and a server that answers every
``*.localhost`` name records which host each browser asked for. Only the configured
host (``shop.localhost``) may ever be asked; ``evil.localhost`` is on the same port,
so a browser sent there would reach the recorder too and the test would see it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import create_world
from tests.e2e.browsers import ENGINES, Browser, launch
from tests.servers import free_port, run_server


class Recorder:
    """An ASGI app that answers 200 to any host and records (host, path?query)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        headers = dict(scope["headers"])
        target = scope["raw_path"].decode("latin-1")
        if scope["query_string"]:
            target += "?" + scope["query_string"].decode("latin-1")
        self.seen.append((headers.get(b"host", b"").decode("latin-1"), target))
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})  # fmt: skip
        await send({"type": "http.response.body", "body": b"landed"})


TEMPLATES = [  # landing URLs an admin may set: macros in the path, query and fragment
    "http://shop.localhost:{port}/l/{sub1}?s2={sub2}&cid={click_id}#{sub3}",
    "http://shop.localhost:{port}/{sub1}",
    "http://shop.localhost:{port}/a/{p:next}/b?{sub2}",
    "http://shop.localhost:{port}/?u={sub1}{sub2}",
]
HOSTILE = [  # URLs the API must refuse; if one were accepted, the browsers must still
    # never leave shop.localhost (the recorder would see evil.localhost)
    "http://{sub1}/x", "http://x{sub1}/", "http://shop.localhost:{port}{sub1}/",
    "http://shop.localhost:{port}@evil.localhost:{port}/",
    "http://shop.localhost:{port}\\@evil.localhost:{port}/",
    "http://shop.localhost:{port}/\t\\evil", "http:/\\evil.localhost:{port}/",
]  # fmt: skip
VALUES = [  # what a visitor puts in sub1, sub2, sub3 and next
    "evil.localhost:{port}", "@evil.localhost:{port}", "//evil.localhost:{port}/x",
    "\\\\evil.localhost:{port}", "/\\evil.localhost:{port}", "%2f%2fevil.localhost:{port}",
    "\t//evil.localhost:{port}", "%0d%0aLocation: http://evil.localhost:{port}/",
    "http://evil.localhost:{port}/", "#@evil.localhost:{port}", "?@evil.localhost:{port}",
    "../../..//evil.localhost:{port}", "é。evil.localhost:{port}", ":{port}@evil.localhost",
]  # fmt: skip


@pytest.fixture(params=ENGINES)
async def browser(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Browser]:
    async with launch(request.param, tmp_path / "profile") as b:
        yield b


async def test_browsers_only_ever_go_to_the_configured_host(
    service: str, api: httpx.AsyncClient, browser: Browser
) -> None:
    port = free_port()
    recorder = Recorder()
    codes = []
    for template in TEMPLATES:
        w = await create_world(api, template.replace("{port}", str(port)))
        codes.append(w["link"]["code"])
    w = await create_world(api, f"http://shop.localhost:{port}/")
    for template in HOSTILE:
        url = template.replace("{port}", str(port))
        r = await api.post("/api/v1/offers", json={"advertiser_id": w["advertiser"]["id"],
                                                   "name": "Hostile", "landing_url": url})  # fmt: skip
        if r.status_code == 201:  # never expected: the browsers below then judge it
            link = await api.post("/api/v1/links", json={"offer_id": r.json()["id"],
                                                         "affiliate_id": w["affiliate"]["id"]})  # fmt: skip
            codes.append(link.json()["code"])
        else:
            assert r.status_code == 422 and r.json()["error"]["field"] == "landing_url", r.text
    # A paused offer sends every click to its fallback, also a template of the admin's.
    w = await create_world(api, f"http://shop.localhost:{port}/never")
    r = await api.patch(f"/api/v1/offers/{w['offer']['id']}",
                        json={"status": "paused",
                              "fallback_url": f"http://shop.localhost:{port}/fb/{{sub1}}?n={{p:next}}"})  # fmt: skip
    assert r.status_code == 200, r.text
    codes.append(w["link"]["code"])

    async with run_server(recorder, port):
        for code in codes:
            for value in VALUES:
                v = quote(value.replace("{port}", str(port)), safe="")
                await browser.goto(f"{service}/c/{code}?sub1={v}&sub2={v}&sub3={v}&next={v}")
                assert await browser.js("location.host") == f"shop.localhost:{port}", (code, value)

    hosts = {host for host, _ in recorder.seen}
    assert hosts == {f"shop.localhost:{port}"}, hosts
    # Every navigation reached the shop (none ended on an error page nor stayed behind).
    pages = [t for _, t in recorder.seen if t != "/favicon.ico"]
    assert len(pages) == len(codes) * len(VALUES)
    assert all(t.startswith("/fb/") for t in pages[-len(VALUES) :]), pages[-len(VALUES) :]
