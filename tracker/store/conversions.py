"""Conversion rows read back: one, a transaction's, a click's, a filtered page; each with
its decision record and its history (the money after each change). Writes go through
the one conversion path (``conversion_path``, ``conversion_changes``, ``conversion_rows``)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

_HISTORY_FIELDS = ("from_status", "to_status", "reason", "actor", "at", "amount", "payout",
                   "revenue")  # fmt: skip


def public(row: Any) -> dict[str, Any]:
    out = dict(row)
    out["decision"] = json.loads(out["decision"], parse_float=Decimal)
    out.pop("caps_used", None)
    out.pop("gate", None)  # the standing verdict is in the decision record and status_reason
    return out


async def status_of(pool: asyncpg.Pool, cid: UUID) -> str | None:
    """The stored status (a repeated postback is answered with it), or None."""
    status: str | None = await pool.fetchval(
        "SELECT status FROM conversions WHERE conversion_id = $1", cid
    )
    return status


async def get(pool: asyncpg.Pool, cid: UUID) -> dict[str, Any] | None:
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM conversions WHERE conversion_id = $1", cid)
        if row is None:
            return None
        hist = await conn.fetch(
            "SELECT from_status, to_status, reason, actor, at, amount, payout, revenue"
            " FROM conversion_status_history"
            " WHERE conversion_id = $1 ORDER BY id",
            cid,
        )
    out = public(row)
    out["history"] = [dict(h) for h in hist]
    return out


async def _with_history(conn: Any, rows: list[Any]) -> list[dict[str, Any]]:
    hist = await conn.fetch(
        "SELECT conversion_id, from_status, to_status, reason, actor, at, amount, payout, revenue"
        " FROM conversion_status_history WHERE conversion_id = ANY($1::uuid[]) ORDER BY id",
        [r["conversion_id"] for r in rows],
    )
    out = []
    for r in rows:
        item = public(r)
        item["history"] = [
            {k: h[k] for k in _HISTORY_FIELDS}
            for h in hist
            if h["conversion_id"] == r["conversion_id"]
        ]
        out.append(item)
    return out


async def by_txn(pool: asyncpg.Pool, advertiser_id: int, txn_id: str) -> list[dict[str, Any]]:
    """Every goal's conversion of one merchant transaction, with its history."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT * FROM conversions WHERE advertiser_id = $1 AND txn_id = $2 ORDER BY goal",
            advertiser_id, txn_id,
        )  # fmt: skip
        return await _with_history(conn, rows) if rows else []


async def of_click(pool: asyncpg.Pool, click_id: UUID) -> list[dict[str, Any]]:
    """The conversions attributed to one click, with their history."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT * FROM conversions WHERE click_id = $1 ORDER BY created_at", click_id
        )
        return await _with_history(conn, rows) if rows else []


async def search(
    pool: asyncpg.Pool,
    *,
    advertiser_id: int | None,
    affiliate_id: int | None,
    offer_id: int | None,
    status: str | None,
    after: UUID | None,
    limit: int,
) -> list[dict[str, Any]]:
    where, args = ["true"], []  # type: list[str], list[Any]
    for col, val in (("advertiser_id", advertiser_id), ("affiliate_id", affiliate_id),
                     ("offer_id", offer_id), ("status", status), ("conversion_id >", after)):  # fmt: skip
        if val is not None:
            args.append(val)
            op = "" if " " in col else " ="
            where.append(f"{col}{op} ${len(args)}")
    args.append(limit)
    rows = await pool.fetch(
        f"SELECT * FROM conversions WHERE {' AND '.join(where)}"
        f" ORDER BY conversion_id LIMIT ${len(args)}",
        *args,
    )
    return [public(r) for r in rows]
