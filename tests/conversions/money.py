"""Helpers of the money tests: postbacks as merchants send them, reads through the API."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import asyncpg
import httpx

from tracker.store.keys import create_key


async def postback(http: httpx.AsyncClient, adv: dict[str, Any], **params: Any) -> httpx.Response:
    r = await http.get(
        "/postback", params={"advertiser_id": adv["id"], "token": adv["postback_token"], **params}
    )
    assert r.status_code in (200, 202), r.text
    return r


async def read(api: httpx.AsyncClient, cid: str) -> dict[str, Any]:
    r = await api.get(f"/api/v1/conversions/{cid}")
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


async def report_row(api: httpx.AsyncClient, offer_id: int) -> dict[str, Any]:
    """The offer's row of a report by offer over the last week (zeros when it has none)."""
    rep = (await api.get("/api/v1/reports", params={"group_by": "offer"})).json()
    row = next((r for r in rep["rows"] if r["key"] == offer_id), None)
    return row or {"conversions": 0, "pending": 0, "approved": 0, "payout": "0", "revenue": "0"}


def money(row: dict[str, Any]) -> tuple[int, Decimal, Decimal]:
    return row["conversions"], Decimal(row["payout"]), Decimal(row["revenue"])


async def advertiser_client(
    service: str, pool: asyncpg.Pool, advertiser_id: int
) -> httpx.AsyncClient:
    key = await create_key(pool, "advertiser", advertiser_id=advertiser_id)
    return httpx.AsyncClient(
        base_url=service, headers={"Authorization": f"Bearer {key.token}"}, timeout=30
    )


async def held_rollup(pool: asyncpg.Pool, offer_id: int) -> tuple[int, int, Decimal]:
    """(held, pending + approved, counted payout) of the offer in the rollup (UTC days)."""
    row = await pool.fetchrow(
        "SELECT coalesce(sum(held), 0) AS h, coalesce(sum(pending + approved), 0) AS c,"
        " coalesce(sum(payout), 0) AS p FROM rollup_spans WHERE span = 86400"
        " AND offer_id = $1 AND t = span_start(t, 86400, 0)",
        offer_id,
    )
    return int(row["h"]), int(row["c"]), Decimal(row["p"])
