"""Archiving a link, an offer, a partner or an advertiser stops its links taking clicks on
the running redirect within 2 s, with the default refresh interval; rows stay readable."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.conftest import create_world
from tracker.settings import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.link_refresh_s = Settings.model_fields["link_refresh_s"].default  # as deployed
    return settings


async def _lands(http: httpx.AsyncClient, code: str) -> bool:
    r = await http.get(f"/c/{code}")
    return r.status_code == 302 and r.headers["location"].startswith("https://shop.example/")


async def test_archived_objects_stop_taking_clicks_within_two_seconds(
    settings: Settings, service: str, api: httpx.AsyncClient
) -> None:
    assert settings.link_refresh_s <= 1.0
    worlds = [await create_world(api) for _ in range(4)]
    targets = [
        ("links", worlds[0]["link"]["id"]),
        ("offers", worlds[1]["offer"]["id"]),
        ("affiliates", worlds[2]["affiliate"]["id"]),
        ("advertisers", worlds[3]["advertiser"]["id"]),
    ]
    async with httpx.AsyncClient(base_url=service, timeout=5) as http:
        for w in worlds:  # every link cached by the redirect and taking clicks
            assert await _lands(http, w["link"]["code"])
        for (collection, ident), w in zip(targets, worlds, strict=True):
            r = await api.post(f"/api/v1/{collection}/{ident}/archive")
            assert r.status_code == 200 and r.json()["status"] == "archived", r.text
            t0 = time.monotonic()
            while await _lands(http, w["link"]["code"]):
                assert time.monotonic() - t0 < 2.0, f"archived {collection} still takes clicks"
                await asyncio.sleep(0.05)
            for _ in range(5):  # and it stays stopped
                assert not await _lands(http, w["link"]["code"])
            again = await api.get(f"/api/v1/{collection}/{ident}")
            assert again.status_code == 200 and again.json()["status"] == "archived"
            patched = await api.patch(f"/api/v1/{collection}/{ident}", json={"status": "active"})
            assert patched.status_code == 409 and patched.json()["error"]["code"] == "archived"
    listed = (await api.get("/api/v1/offers", params={"status": "archived", "limit": 1000})).json()
    archived = {o["id"] for o in listed["items"]}
    assert {worlds[1]["offer"]["id"], worlds[3]["offer"]["id"]} <= archived  # with its advertiser
