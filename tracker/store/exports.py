"""Raw rows for a time range, streamed from a server-side cursor in constant memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import asyncpg

from tracker.domain.visibility import TRACKER_REASONS

_SUBS = tuple(f"sub{i}" for i in range(1, 11))
# A click's report dimensions, as clicks and impressions store them (migration 0070)
_DIMS = (
    "link_id", "link_code", *_SUBS, "source", "params", "country", "region", "city", "device",
    "os", "browser", "click_class",
)  # fmt: skip
_NETWORK = ("asn", "asn_org", "datacenter", "traffic_rule")  # migrations 0040, 0072
_CHOICE = ("route_id", "lander_id")  # a smart link's route, the offer's lander (0080)
CLICK_COLUMNS = (
    "click_id", "created_at", "offer_id", "affiliate_id", *_DIMS, "is_unique",
    "ip_trunc", "user_agent", "referer", "referer_domain", *_NETWORK, *_CHOICE,
)  # fmt: skip
IMPRESSION_COLUMNS = (
    "impression_id", "created_at", "offer_id", "affiliate_id", *_DIMS,
    "ip_trunc", "user_agent", "referer", "referer_domain", *_NETWORK, *_CHOICE,
)  # fmt: skip
CONVERSION_COLUMNS = (
    "conversion_id", "created_at", "advertiser_id", "offer_id", "affiliate_id", "goal", "txn_id",
    "status", "status_reason", "amount", "currency", "revenue", "payout", "click_id", "click_at",
    # the click's dimensions, copied onto the conversion (migrations 0015, 0070)
    "link_id", *_SUBS, "source", "params", "country", "region", "city", "device", "os",
    "browser", "referer_domain",
)  # fmt: skip
TABLES = ("clicks", "impressions", "conversions")


# tracker.domain.visibility.reason_code, in SQL (exports are written by the query).
_REASON_CODE = (
    "CASE WHEN {c} IS NULL THEN NULL WHEN {c} = ANY('{{"
    + ",".join(sorted(TRACKER_REASONS))
    + "}}'::text[]) THEN {c} WHEN split_part({c}, ':', 1) IN ('fraud', 'postback', 'pixel')"
    " THEN split_part({c}, ':', 1) ELSE 'other' END"
)


# A click's custom parameters without the network's own trk_* ones (never shown to anyone:
# tracker.domain.partner_render.network_param); NULL when none is left.
_PARAMS = ("(SELECT jsonb_object_agg(k, v) FROM jsonb_each(params) AS e (k, v)"
           " WHERE lower(left(k, 4)) <> 'trk_')")  # fmt: skip


def _expr(column: str, reduced: dict[str, str]) -> str:
    """The column as selected: text for addresses, reduced where the caller sees a code."""
    if reduced.get(column) == "reason_code":
        return _REASON_CODE.format(c=column)
    assert column not in reduced, column
    if column == "params":
        return _PARAMS
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
    assert table in TABLES
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
    assert table in TABLES
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
