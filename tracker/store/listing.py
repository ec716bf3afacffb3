"""Lists, tenant-scoped reads and archiving of management rows.

Which rows a key sees is one SQL predicate per (table, role), kept here so that
every list and every read by id applies the same rule. Table and column names
come from this module, never from callers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from tracker.store.entities import row_of
from tracker.store.keys import Principal

Row = dict[str, Any]

# $T is the caller's tenant id (its advertiser or its partner).
# The (partner, offer) pairs of links: plain links, and smart links' routes (issue 20: a
# partner promotes the offers its smart links route to).
_PAIRS = """(SELECT affiliate_id, offer_id FROM tracking_links WHERE offer_id IS NOT NULL
            UNION ALL
            SELECT l.affiliate_id, r.offer_id FROM link_routes r
              JOIN tracking_links l ON l.id = r.link_id WHERE r.offer_id IS NOT NULL)"""
_VISIBLE: dict[tuple[str, str], str] = {
    ("advertisers", "advertiser"): "t.id = $T",
    # A partner sees the advertisers whose offers it has links for (names only).
    ("advertisers", "affiliate"): f"""t.id IN (SELECT o.advertiser_id FROM offers o
        JOIN {_PAIRS} l ON l.offer_id = o.id WHERE l.affiliate_id = $T)""",
    ("affiliates", "affiliate"): "t.id = $T",
    # An advertiser sees the partners that have links on its offers.
    ("affiliates", "advertiser"): f"""t.id IN (SELECT l.affiliate_id FROM {_PAIRS} l
        JOIN offers o ON o.id = l.offer_id WHERE o.advertiser_id = $T)""",
    ("offers", "advertiser"): "t.advertiser_id = $T",
    (
        "offers",
        "affiliate",
    ): f"t.id IN (SELECT l.offer_id FROM {_PAIRS} l WHERE l.affiliate_id = $T)",
    (
        "tracking_links",
        "advertiser",
    ): "t.offer_id IN (SELECT id FROM offers WHERE advertiser_id = $T)",
    ("tracking_links", "affiliate"): "t.affiliate_id = $T",
}
TABLES = frozenset(t for t, _ in _VISIBLE)


def tenant_of(who: Principal) -> int | None:
    return who.advertiser_id if who.role == "advertiser" else who.affiliate_id


def _scope(table: str, who: Principal, args: list[Any]) -> str:
    """The predicate for ``who`` on ``table`` (``true`` for admins), its value appended."""
    if who.role == "admin":
        return "true"
    rule = _VISIBLE.get((table, who.role))
    tenant = tenant_of(who)
    if rule is None or tenant is None:
        return "false"
    args.append(tenant)
    return rule.replace("$T", f"${len(args)}")


async def visible(pool: asyncpg.Pool, table: str, ident: int, who: Principal) -> Row | None:
    """The row ``ident`` of ``table`` if ``who`` may see it, else None."""
    assert table in TABLES
    args: list[Any] = [ident]
    where = _scope(table, who, args)
    row = await pool.fetchrow(f"SELECT t.* FROM {table} t WHERE t.id = $1 AND {where}", *args)
    return row_of(row) if row else None


async def page(
    pool: asyncpg.Pool,
    table: str,
    who: Principal,
    *,
    filters: dict[str, Any],
    updated_since: datetime | None,
    after_id: int,
    limit: int,
) -> list[Row]:
    """Rows of ``table`` visible to ``who``, by id after ``after_id``; None filters are ignored."""
    assert table in TABLES
    args: list[Any] = [after_id]
    where = ["t.id > $1", _scope(table, who, args)]
    for column, value in filters.items():
        if value is not None:
            args.append(value)
            where.append(f"t.{column} = ${len(args)}")
    if updated_since is not None:
        args.append(updated_since)
        where.append(f"t.updated_at >= ${len(args)}")
    args.append(limit)
    rows = await pool.fetch(
        f"SELECT t.* FROM {table} t WHERE {' AND '.join(where)} ORDER BY t.id LIMIT ${len(args)}",
        *args,
    )
    return [row_of(r) for r in rows]


async def archive(pool: asyncpg.Pool, table: str, ident: int) -> Row | None:
    """Set ``status = 'archived'`` (nothing money refers to is ever deleted).

    An advertiser's offers are archived with it, in one transaction. ``updated_at``
    moves, so every redirect process drops the offer or link at its next refresh.
    """
    assert table in TABLES
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            f"UPDATE {table} SET status = 'archived', updated_at = now() WHERE id = $1 RETURNING *",
            ident,
        )
        if row is not None and table == "advertisers":
            await conn.execute(
                "UPDATE offers SET status = 'archived', updated_at = now()"
                " WHERE advertiser_id = $1 AND status <> 'archived'",
                ident,
            )
    return row_of(row) if row else None
