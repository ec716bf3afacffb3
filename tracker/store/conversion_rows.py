"""Conversion rows: the SQL that writes them, shared by the ingest worker and the API.

Every writer takes the same two locks in the same order: the advisory lock of the
conversion id (held even before the row exists, so two workers never insert and change
one conversion at once) and the row ``FOR UPDATE``. A row is inserted with its first
history entry and its rollup in one statement; a change writes the row, one history
entry with the money after it, moves the rollup by the difference and announces an
approval or reversal to the partner's outbox, all in the caller's transaction.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from tracker import metrics
from tracker.domain.conversion_status import COUNTED
from tracker.store import outbox
from tracker.store.reports import rollups

# The row, its first history entry and its rollup in one round trip.
_INSERT = (
    """
WITH ins AS (
    INSERT INTO conversions (conversion_id, advertiser_id, goal, txn_id, click_id, click_at, offer_id,
        affiliate_id, status, status_reason, amount, currency, revenue, payout, decision, created_at,
        method, coupon, adv_subs, offer_currency, amount_converted, ip_key, click_class, country,
        device, caps_used, status_at, merchant_status, merchant_at, gate)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
            $20, $21, $22, $23, $24, $25, $26, $16, $28, $29, $30)
    ON CONFLICT DO NOTHING
    RETURNING *
), hist AS (
    INSERT INTO conversion_status_history (conversion_id, from_status, to_status, reason, actor, at,
                                           amount, payout, revenue)
    SELECT conversion_id, NULL, status, status_reason, $27, created_at, amount, payout, revenue
      FROM ins
), spans AS ("""
    + rollups.conversions_cte("ins")
    + """
)
SELECT * FROM ins
"""
)

_UPDATE = """
UPDATE conversions SET status = $2, status_reason = $3, status_at = $4, merchant_status = $5,
       merchant_at = $6, gate = $7, amount = $8, currency = $9, amount_converted = $10,
       offer_currency = $11, revenue = $12, payout = $13, decision = $14, caps_used = $15
 WHERE conversion_id = $1
RETURNING *
"""

_HISTORY = """
INSERT INTO conversion_status_history (conversion_id, from_status, to_status, reason, actor, at,
                                       amount, payout, revenue)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
"""


def dumps(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def loads(value: Any) -> Any:
    return json.loads(value, parse_float=Decimal) if isinstance(value, str) else value


async def lock(conn: asyncpg.Connection, cid: UUID) -> Any:
    """Both locks of one conversion id, in the caller's transaction; the row or None."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 5))", str(cid))
    return await conn.fetchrow("SELECT * FROM conversions WHERE conversion_id = $1 FOR UPDATE", cid)


async def lock_ids(conn: asyncpg.Connection, cids: list[UUID]) -> None:
    """The advisory locks of a batch's conversion ids, in one global order, before anything
    else: a transaction then never holds a cap counter while it waits for a conversion, so
    batches and API changes of the same conversions cannot deadlock on caps."""
    for cid in sorted(set(cids)):
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 5))", str(cid))


async def insert(conn: asyncpg.Connection, v: dict[str, Any], actor: str) -> Any:
    """The new row (None when its id is taken), its history and rollup; partners hear of it."""
    row = await conn.fetchrow(
        _INSERT, v["conversion_id"], v["advertiser_id"], v["goal"], v["txn_id"], v["click_id"],
        v["click_at"], v["offer_id"], v["affiliate_id"], v["status"], v["status_reason"],
        v["amount"], v["currency"], v["revenue"], v["payout"], dumps(v["decision"]),
        v["created_at"], v["method"], v["coupon"], v["adv_subs"], v["offer_currency"],
        v["amount_converted"], v["ip_key"], v["click_class"], v["country"], v["device"],
        dumps(v["caps_used"]), actor, v["merchant_status"], v["merchant_at"], v["gate"],
    )  # fmt: skip
    if row is not None and row["affiliate_id"] is not None:
        for event in ("created", "approved") if row["status"] == "approved" else ("created",):
            await outbox.announce(conn, row, event)
    return row


async def update(
    conn: asyncpg.Connection, before: Any, v: dict[str, Any], *, actor: str, at: datetime,
    note: str | None,
) -> Any:  # fmt: skip
    """Write the new state of a locked row: history (when the status or the money moved),
    rollup by the difference, the partner's outbox on approval or reversal."""
    moved = before["status"] != v["status"]
    money = (before["amount"], before["payout"], before["revenue"]) != (
        v["amount"], v["payout"], v["revenue"])  # fmt: skip
    row = await conn.fetchrow(
        _UPDATE, before["conversion_id"], v["status"], v["status_reason"],
        at if moved else before["status_at"], v["merchant_status"], v["merchant_at"], v["gate"],
        v["amount"], v["currency"], v["amount_converted"], v["offer_currency"], v["revenue"],
        v["payout"], dumps(v["decision"]), dumps(v["caps_used"]),
    )  # fmt: skip
    if moved or money:
        await conn.execute(_HISTORY, row["conversion_id"], before["status"], row["status"],
                           note or v["status_reason"], actor, at, row["amount"], row["payout"],
                           row["revenue"])  # fmt: skip
    # every status's own money is in the rollup (migrations 0071, 0073): an amended held or
    # rejected sale moves it too, not only a counted one
    if (moved or money) and row["offer_id"] is not None:
        if row["affiliate_id"] is not None:
            await conn.execute(rollups.STATUS, *rollups.move_args(
                row["created_at"], row["affiliate_id"], row["offer_id"], before["status"],
                row["status"], (before["revenue"], before["payout"]),
                (row["revenue"], row["payout"]), COUNTED))  # fmt: skip
    if moved:
        metrics.CONVERSION_STATUS_CHANGES.labels(row["status"]).inc()
    if moved and row["status"] in ("approved", "reversed"):
        await outbox.announce(conn, row, row["status"], status=row["status"])
    return row


async def amounts_seen(conn: asyncpg.Connection, cid: UUID) -> set[Decimal]:
    """Every amount the conversion has had (a replayed amendment brings one of them back)."""
    rows = await conn.fetch(
        "SELECT DISTINCT amount FROM conversion_status_history"
        " WHERE conversion_id = $1 AND amount IS NOT NULL",
        cid,
    )
    return {r["amount"] for r in rows}
