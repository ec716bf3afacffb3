"""Raw rows for a time range, streamed from a server-side cursor in constant memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import asyncpg

from tracker.domain.visibility import TRACKER_REASONS

CLICK_COLUMNS = (
    "click_id", "created_at", "offer_id", "affiliate_id", "link_code",
    "sub1", "sub2", "sub3", "sub4", "sub5", "sub6", "sub7", "sub8", "sub9", "sub10", "source",
    "country", "region", "city", "device", "os", "browser", "click_class", "is_unique",
    "ip_trunc", "user_agent", "referer", "asn", "asn_org", "datacenter", "traffic_rule",
)  # fmt: skip
CONVERSION_COLUMNS = (
    "conversion_id", "created_at", "advertiser_id", "offer_id", "affiliate_id", "goal", "txn_id",
    "status", "status_reason", "amount", "currency", "revenue", "payout", "click_id", "click_at",
)  # fmt: skip


# tracker.domain.visibility.reason_code, in SQL (exports are written by the query).
_REASON_CODE = (
    "CASE WHEN {c} IS NULL THEN NULL WHEN {c} = ANY('{{"
    + ",".join(sorted(TRACKER_REASONS))
    + "}}'::text[]) THEN {c} WHEN split_part({c}, ':', 1) IN ('fraud', 'postback', 'pixel')"
    " THEN split_part({c}, ':', 1) ELSE 'other' END"
)


def _expr(column: str, reduced: dict[str, str]) -> str:
    """The column as selected: text for addresses, reduced where the caller sees a code."""
    if reduced.get(column) == "reason_code":
        return _REASON_CODE.format(c=column)
    assert column not in reduced, column
    return f"{column}::text" if column == "ip_trunc" else column


def _scope(table: str, affiliate_id: int | None, advertiser_id: int | None, args: list[Any]) -> str:
    sql = ""
    if affiliate_id is not None:
        args.append(affiliate_id)
        sql += f" AND affiliate_id = ${len(args)}"
    if advertiser_id is not None:
        args.append(advertiser_id)
        sql += (
            f" AND advertiser_id = ${len(args)}"
            if table == "conversions"
            else f" AND offer_id IN (SELECT id FROM offers WHERE advertiser_id = ${len(args)})"
        )
    return sql


async def stream_rows(
    pool: asyncpg.Pool, table: str, columns: tuple[str, ...], start: datetime, end: datetime,
    *, affiliate_id: int | None = None, advertiser_id: int | None = None, chunk: int = 5000,
    reduced: dict[str, str] | None = None,
) -> AsyncIterator[list[asyncpg.Record]]:  # fmt: skip
    assert table in ("clicks", "conversions")
    args: list[Any] = [start, end]
    where = "created_at >= $1 AND created_at < $2" + _scope(
        table, affiliate_id, advertiser_id, args
    )
    cols = ", ".join(_expr(c, reduced or {}) for c in columns)
    sql = f"SELECT {cols} FROM {table} WHERE {where} ORDER BY created_at"
    async with pool.acquire() as conn, conn.transaction(readonly=True):
        cursor = await conn.cursor(sql, *args)
        while True:
            rows = await cursor.fetch(chunk, timeout=60)
            if not rows:
                return
            yield rows


_NUMERIC = frozenset({"amount", "revenue", "payout"})  # decimal strings, never JSON numbers


async def stream_ndjson(
    pool: asyncpg.Pool, table: str, columns: tuple[str, ...], start: datetime, end: datetime,
    *, affiliate_id: int | None = None, advertiser_id: int | None = None, chunk: int = 5000,
    reduced: dict[str, str] | None = None,
) -> AsyncIterator[bytes]:  # fmt: skip
    """NDJSON lines made by Postgres (``json_build_object``): the same objects as rows
    encoded in Python (times in UTC ISO 8601, money as strings), at several times the rate."""
    assert table in ("clicks", "conversions")
    args: list[Any] = [start, end]
    where = "created_at >= $1 AND created_at < $2" + _scope(
        table, affiliate_id, advertiser_id, args
    )
    pairs = ", ".join(
        f"'{c}', {c}::text" if c in _NUMERIC else f"'{c}', {_expr(c, reduced or {})}"
        for c in columns
    )
    sql = f"SELECT json_build_object({pairs})::text FROM {table} WHERE {where} ORDER BY created_at"
    async with pool.acquire() as conn, conn.transaction(readonly=True):
        await conn.execute("SET LOCAL TimeZone = 'UTC'")
        cursor = await conn.cursor(sql, *args)
        while True:
            rows = await cursor.fetch(chunk, timeout=60)
            if not rows:
                return
            yield ("\n".join([r[0] for r in rows]) + "\n").encode()
