"""Helpers of the money tests: postbacks as merchants send them, reads through the API."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import asyncpg
import httpx

from schemas.reports import STATUSES
from tracker.store.keys import create_key
from tracker.store.reports.rollups import SPANS


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
    """The offer's row of a report by offer over the last week (zeros when it has none).
    Read by group: other tests' offers in other currencies split the report by currency
    (the key is then ``offer|currency``; an offer has one currency, so one row)."""
    rep = (await api.get("/api/v1/reports", params={"group_by": "offer"})).json()
    row = next((r for r in rep["rows"] if r["group"]["offer"] == offer_id), None)
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


_MONEY = ("revenue", "payout")
_FIGURES = (*STATUSES, *_MONEY, *(f"{s}_{m}" for s in STATUSES for m in _MONEY))
_STORED = ", ".join(
    [*(f"count(*) FILTER (WHERE c.status = '{s}')" for s in STATUSES),
     *(f"coalesce(sum(c.{m}) FILTER (WHERE c.status IN ('pending', 'approved')), 0)"
       for m in ("revenue", "payout")),
     *(f"coalesce(sum(c.{m}) FILTER (WHERE c.status = '{s}'), 0)"
       for s in STATUSES for m in ("revenue", "payout"))]
)  # fmt: skip


async def assert_rollup_exact(pool: asyncpg.Pool, offer_ids: list[int]) -> None:
    """The offers' conversion figures in the rollup (counts by status, counted money, each
    status's money; the seven UTC spans) equal the sums of their stored conversions, after
    whatever moved them (amendments, re-pricing, overrides, merchant statuses, caps)."""
    stored = await pool.fetch(
        f"SELECT s.span, span_start(c.created_at, s.span, 0), c.affiliate_id, c.offer_id,"
        f" {_STORED} FROM conversions c CROSS JOIN unnest($2::int4[]) AS s (span)"
        " WHERE c.offer_id = ANY($1::int8[]) AND c.affiliate_id IS NOT NULL GROUP BY 1, 2, 3, 4",
        offer_ids, list(SPANS),
    )  # fmt: skip
    kept = await pool.fetch(
        f"SELECT span, t, affiliate_id, offer_id, {', '.join(_FIGURES)} FROM rollup_spans"
        " WHERE offer_id = ANY($1::int8[]) AND t = span_start(t, span, 0)",
        offer_ids,
    )  # fmt: skip
    want = {tuple(r[:4]): tuple(r[4:]) for r in stored}
    have = {tuple(r[:4]): tuple(r[4:]) for r in kept if any(r[4:])}
    assert want, "no conversions of these offers"
    wrong = {k: (want.get(k), have.get(k)) for k in want.keys() | have.keys()
             if want.get(k) != have.get(k)}  # fmt: skip
    assert not wrong, (len(wrong), list(wrong.items())[:3])
