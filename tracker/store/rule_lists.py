"""Reads and pages of the rules that price conversions: an offer's goals, payout
overrides, tiers, caps and promo codes, and the currency rates.

Keyset pages like every other list (docs/adr/0066): rows after the cursor's key, in
key order, so a page never repeats or skips a row while rules are added. Table,
column and filter SQL come from this module, never from callers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

Row = dict[str, Any]

# what -> (table, select list, start column, end column) of the rules paged by id
_BY_ID = {
    "payout_overrides": ("payout_overrides", "*", "valid_from", "valid_to"),
    "payout_tiers": ("payout_tiers", "*", "valid_from", "valid_to"),
    "revenue_rules": ("revenue_rules", "*", "valid_from", "valid_to"),
    "caps": ("conversion_caps", "*, cap_limit AS limit", None, None),
    "promo_codes": ("promo_codes", "*", "starts_at", "ends_at"),
    "price_terms": ("offer_price_terms", "*", "valid_from", None),
}
# filter name -> predicate on the parameter {}
_FILTERS = {
    "affiliate_id": "affiliate_id = ${}",
    "code": "lower(code) = lower(${})",
    "archived": "(archived_at IS NOT NULL) = ${}",
}


def _valid_at(start: str, end: str, mark: str) -> str:
    """Rules that apply at an instant: start inclusive, end exclusive, NULL or ±infinity open."""
    return f"({start} IS NULL OR {start} <= {mark}) AND ({end} IS NULL OR {end} > {mark})"


def open_ends(row: Row, *columns: str | None) -> Row:
    """±infinity come back from asyncpg as year 1 / 9999: the API says null (no bound)."""
    for k in columns:
        if k is not None and getattr(row[k], "year", 2000) in (1, 9999):
            row[k] = None
    return row


async def rules_page(pool: asyncpg.Pool, what: str, offer_id: int, *, after_id: int, limit: int,
                     valid_at: datetime | None = None, **filters: Any) -> list[Row]:  # fmt: skip
    """One page of an offer's rules of kind ``what``, by id after ``after_id``;
    None filters are ignored."""
    table, cols, start, end = _BY_ID[what]
    args: list[Any] = [offer_id, after_id]
    where = ["offer_id = $1", "id > $2"]
    for name, value in filters.items():
        if value is not None:
            args.append(value)
            where.append(_FILTERS[name].format(len(args)))
    if valid_at is not None and start is not None and end is not None:
        args.append(valid_at)
        where.append(_valid_at(start, end, f"${len(args)}"))
    args.append(limit)
    rows = await pool.fetch(
        f"SELECT {cols} FROM {table} WHERE {' AND '.join(where)} ORDER BY id LIMIT ${len(args)}",
        *args,
    )
    return [open_ends(dict(r), start, end) for r in rows]


async def rule(pool: asyncpg.Pool, what: str, offer_id: int | None, ident: int) -> Row | None:
    """One rule of kind ``what`` by id (of that offer, unless ``offer_id`` is None)."""
    table, cols, start, end = _BY_ID[what]
    row = await pool.fetchrow(
        f"SELECT {cols} FROM {table} WHERE id = $1 AND ($2::bigint IS NULL OR offer_id = $2)",
        ident, offer_id,
    )  # fmt: skip
    return open_ends(dict(row), start, end) if row is not None else None


async def goal(pool: asyncpg.Pool, offer_id: int, code: str) -> Row | None:
    row = await pool.fetchrow(
        "SELECT * FROM offer_goals WHERE offer_id = $1 AND code = $2", offer_id, code
    )
    return dict(row) if row is not None else None


async def goals_page(pool: asyncpg.Pool, offer_id: int, *, after_code: str,
                     limit: int) -> list[Row]:  # fmt: skip
    """An offer's goals by code (in byte order, as the cursor compares them)."""
    rows = await pool.fetch(
        """SELECT * FROM offer_goals WHERE offer_id = $1 AND code COLLATE "C" > $2
           ORDER BY code COLLATE "C" LIMIT $3""",
        offer_id, after_code, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def rates_page(pool: asyncpg.Pool, *, after: tuple[str, str, datetime] | None, limit: int,
                     base: str | None, quote: str | None) -> list[Row]:  # fmt: skip
    """Currency rates by (base, quote, valid_from) after ``after``."""
    args: list[Any] = [base, quote, limit]
    where = "($1::text IS NULL OR base = $1) AND ($2::text IS NULL OR quote = $2)"
    if after is not None:
        args += after
        where += " AND (base, quote, valid_from) > ($4, $5, $6)"
    rows = await pool.fetch(
        f"SELECT * FROM currency_rates WHERE {where} ORDER BY base, quote, valid_from LIMIT $3",
        *args,
    )
    return [dict(r) for r in rows]
