"""Keys through the API, per-key rate limits, body size limits and streamed exports."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import orjson

from tests.conftest import create_world
from tracker.settings import Settings
from tracker.store.keys import create_key


async def test_keys_created_listed_and_revoked_through_the_api(
    settings: Settings, service: str, api: httpx.AsyncClient
) -> None:
    world = await create_world(api)
    r = await api.post("/api/v1/keys", json={"role": "affiliate", "affiliate_id": world["affiliate"]["id"],
                                             "scopes": ["read"], "label": "partner"})  # fmt: skip
    assert r.status_code == 201, r.text
    new = r.json()
    assert (
        new["key"].startswith("trk_") and new["role"] == "affiliate" and new["scopes"] == ["read"]
    )
    bad = await api.post("/api/v1/keys", json={"role": "affiliate"})
    assert bad.status_code == 422
    page = (await api.get("/api/v1/keys", params={"limit": 1000})).json()
    listed = next(k for k in page["items"] if k["id"] == new["id"])
    assert "key" not in listed and "revoked_at" not in listed  # absent: never revoked

    async with httpx.AsyncClient(
        base_url=service, headers={"Authorization": f"Bearer {new['key']}"}
    ) as partner:
        assert (await partner.get("/api/v1/reports")).status_code == 200
        # read scope only: writing is refused; admin-only calls are refused
        w = await partner.post("/api/v1/partner-postbacks", json={"affiliate_id": world["affiliate"]["id"],
                                                                  "url_template": "https://p.example/x"})  # fmt: skip
        assert w.status_code == 403
        assert (await partner.get("/api/v1/keys")).status_code == 403
        assert (await api.delete(f"/api/v1/keys/{new['id']}")).status_code == 204
        assert (await partner.get("/api/v1/reports")).status_code == 401
    assert (await api.delete(f"/api/v1/keys/{new['id']}")).status_code == 404


async def test_rate_limit_answers_429_with_retry_after(service: str, pool: asyncpg.Pool) -> None:
    key = (await create_key(pool, "admin", rate_limit_per_min=5)).token
    async with httpx.AsyncClient(
        base_url=service, headers={"Authorization": f"Bearer {key}"}
    ) as http:
        codes = [(await http.get("/api/v1/reports")).status_code for _ in range(8)]
        assert codes[:5] == [200] * 5 and set(codes[5:]) == {429}
        r = await http.get("/api/v1/reports")
        assert (
            r.json()["error"]["code"] == "rate_limited" and 1 <= int(r.headers["Retry-After"]) <= 61
        )


async def test_oversized_body_is_413_json(api: httpx.AsyncClient) -> None:
    r = await api.post("/api/v1/advertisers", content=b'{"name": "' + b"x" * 2_000_000 + b'"}',
                       headers={"content-type": "application/json"})  # fmt: skip
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"
    assert (await api.get("/healthz")).status_code == 200


async def test_exports_stream_every_row_scoped_to_the_tenant(
    settings: Settings, service: str, api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    from tests.e2e.test_click_to_report import _burst, _click_ids

    world = await create_world(api)
    other = await create_world(api)
    ids = await _click_ids(service, world["link"]["code"], 120)
    await _click_ids(service, other["link"]["code"], 30)
    await asyncio.sleep(0.2)
    await _burst(settings)
    now = datetime.now(UTC)
    span = {
        "from": (now - timedelta(hours=1)).isoformat(),
        "to": (now + timedelta(hours=1)).isoformat(),
    }
    r = await api.get("/api/v1/exports/clicks", params=span)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    lines = [orjson.loads(x) for x in r.content.splitlines()]
    assert set(ids) <= {x["click_id"] for x in lines}

    partner_key = (await create_key(pool, "affiliate", affiliate_id=world["affiliate"]["id"])).token
    async with httpx.AsyncClient(
        base_url=service, headers={"Authorization": f"Bearer {partner_key}"}
    ) as p:
        c = await p.get("/api/v1/exports/clicks", params={**span, "format": "csv"})
        assert c.status_code == 200
        rows = list(csv.DictReader(io.StringIO(c.text)))
        assert {row["click_id"] for row in rows} == set(ids)  # its own, all of them, nobody else's
        assert {row["affiliate_id"] for row in rows} == {str(world["affiliate"]["id"])}
        conv = await p.get("/api/v1/exports/conversions", params={**span, "format": "csv"})
        assert conv.status_code == 200 and "revenue" not in conv.text.splitlines()[0]
    bad = await api.get("/api/v1/exports/clicks", params={"from": span["to"], "to": span["from"]})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "from"
