"""A click's sub1 to sub10 and custom parameters, from the redirect to every place a user reads
them: the click read, the click export (NDJSON and CSV), a report by a custom parameter;
and an impression (the pixel) exported with the same fields."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson

from tests.conftest import create_world
from tests.servers import ingest_burst
from tracker.settings import Settings

SUBS = {f"sub{i}": f"v{i} ü&" for i in range(1, 11)}
PARAMS = {"utm_campaign": "spring sale", "gclid": "G-1"}


async def test_sub_ids_and_params_reach_reads_exports_and_reports(
    settings: Settings, service: str, api: httpx.AsyncClient
) -> None:
    world = await create_world(api)
    code = world["link"]["code"]
    headers = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0",
               "Referer": "https://Blog.Example.org/post"}  # fmt: skip
    async with httpx.AsyncClient(base_url=service, timeout=10) as http:
        r = await http.get(f"/c/{code}", params={**SUBS, **PARAMS, "source": "fb"},
                           headers=headers)  # fmt: skip
        assert r.status_code == 302
        click_id = parse_qs(urlsplit(r.headers["location"]).query)["cid"][0]
        pixel = await http.get(f"/i/{code}", params={**SUBS, **PARAMS}, headers=headers)
        assert pixel.status_code == 200
    await asyncio.sleep(0.2)  # the sink flushes every few ms
    await ingest_burst(settings)

    click = (await api.get(f"/api/v1/clicks/{click_id}")).json()
    assert {k: click[k] for k in SUBS} == SUBS
    assert click["params"] == PARAMS and click["source"] == "fb"
    assert click["referer_domain"] == "blog.example.org"

    span = {"from": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
            "to": (datetime.now(UTC) + timedelta(minutes=1)).isoformat()}  # fmt: skip
    offer = world["offer"]["id"]
    for table, key in (("clicks", "click_id"), ("impressions", "impression_id")):
        r = await api.get(f"/api/v1/exports/{table}", params={**span, "format": "ndjson"})
        assert r.status_code == 200 and r.headers["content-type"] == "application/x-ndjson"
        [row] = [x for x in map(orjson.loads, r.text.splitlines()) if x["offer_id"] == offer]
        assert {k: row[k] for k in SUBS} == SUBS, table
        assert row["params"] == PARAMS and row["referer_domain"] == "blog.example.org", table
        assert (row[key] == click_id) == (table == "clicks")
        r = await api.get(f"/api/v1/exports/{table}", params={**span, "format": "csv"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        [line] = [
            x
            for x in csv.DictReader(io.StringIO(r.text, newline=""))
            if x["offer_id"] == str(offer)
        ]
        assert {k: line[k] for k in SUBS} == SUBS, table
        assert orjson.loads(line["params"]) == PARAMS, table

    r = await api.get("/api/v1/reports", params={**span, "group_by": "param:utm_campaign,sub10",
                                                "offer": str(offer)})  # fmt: skip
    assert r.status_code == 200, r.text
    [row] = r.json()["rows"]
    assert row["group"] == {"param:utm_campaign": "spring sale", "sub10": SUBS["sub10"]}
    assert row["gross_clicks"] == 1 and row["impressions"] == 1
