"""Conversion rows: reading them back, and changing their status.

A status change writes the history row, moves the conversion between the status
counts of the report rollup, and gives cap usage back when a counted conversion
(``pending`` or ``approved``) stops counting.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from tracker import metrics
from tracker.store import outbox
from tracker.store.reports import rollups

COUNTED = frozenset({"pending", "approved"})
STATUSES = ("pending", "approved", "rejected", "reversed")

_HISTORY = """
INSERT INTO conversion_status_history (conversion_id, from_status, to_status, reason, actor, at)
VALUES ($1, $2, $3, $4, $5, $6)
"""


async def record_history(
    conn: asyncpg.Connection, cid: UUID, before: str | None, after: str, reason: str | None,
    actor: str, at: datetime,
) -> None:  # fmt: skip
    await conn.execute(_HISTORY, cid, before, after, reason, actor, at)


async def _move_caps(conn: asyncpg.Connection, caps_used: Any, sign: int) -> None:
    for cap_id, key, amount in json.loads(caps_used, parse_float=Decimal):
        await conn.execute(
            "UPDATE cap_usage SET used = used + $3 WHERE cap_id = $1 AND period_key = $2",
            cap_id, key, sign * Decimal(str(amount)),
        )  # fmt: skip


async def change_status(
    conn: asyncpg.Connection, row: Any, to: str, *, actor: str, at: datetime, reason: str | None
) -> bool:
    """Inside the caller's transaction, with ``row`` read ``FOR UPDATE``."""
    before = row["status"]
    if before == to:
        return False
    await conn.execute(
        "UPDATE conversions SET status = $2, status_reason = $3, status_at = $4"
        " WHERE conversion_id = $1",
        row["conversion_id"], to, reason, at,
    )  # fmt: skip
    await record_history(conn, row["conversion_id"], before, to, reason, actor, at)
    metrics.CONVERSION_STATUS_CHANGES.labels(to).inc()
    if row["offer_id"] is not None and row["affiliate_id"] is not None:  # counts by status
        await conn.execute(rollups.STATUS, *rollups.status_args(
            row["created_at"], row["affiliate_id"], row["offer_id"], before, to,
            row["revenue"], row["payout"], COUNTED))  # fmt: skip
    if (before in COUNTED) != (to in COUNTED):
        await _move_caps(conn, row["caps_used"], 1 if to in COUNTED else -1)
    if to in ("approved", "reversed"):  # the partner hears of it, in this transaction
        await outbox.announce(conn, row, to, status=to)
    return True


async def lock(conn: asyncpg.Connection, cid: UUID) -> Any:
    return await conn.fetchrow("SELECT * FROM conversions WHERE conversion_id = $1 FOR UPDATE", cid)


def public(row: Any) -> dict[str, Any]:
    out = dict(row)
    out["decision"] = json.loads(out["decision"], parse_float=Decimal)
    out.pop("caps_used", None)
    return out


async def get(pool: asyncpg.Pool, cid: UUID) -> dict[str, Any] | None:
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM conversions WHERE conversion_id = $1", cid)
        if row is None:
            return None
        hist = await conn.fetch(
            "SELECT from_status, to_status, reason, actor, at FROM conversion_status_history"
            " WHERE conversion_id = $1 ORDER BY id",
            cid,
        )
    out = public(row)
    out["history"] = [dict(h) for h in hist]
    return out


async def _with_history(conn: Any, rows: list[Any]) -> list[dict[str, Any]]:
    hist = await conn.fetch(
        "SELECT conversion_id, from_status, to_status, reason, actor, at"
        " FROM conversion_status_history WHERE conversion_id = ANY($1::uuid[]) ORDER BY id",
        [r["conversion_id"] for r in rows],
    )
    out = []
    for r in rows:
        item = public(r)
        item["history"] = [
            {k: h[k] for k in ("from_status", "to_status", "reason", "actor", "at")}
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
