"""An offer's landers (issue 20): rows of offer_landers, never deleted (archived instead).

Every change moves the offer's ``updated_at`` in the same transaction: the redirect's
refresher reads offers changed since its last look, with their active landers, so a new
weight or a paused lander reaches every process within ``link_refresh_s``.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from schemas.routing import MAX_LANDERS

Row = dict[str, Any]
_COLS = "id, offer_id, name, url, weight, status, created_at, updated_at"
_EDITABLE = ("name", "url", "weight", "status")
_TOUCH = "UPDATE offers SET updated_at = now() WHERE id = $1"


class TooMany(Exception):
    pass


async def create(pool: asyncpg.Pool, offer_id: int, data: dict[str, Any]) -> Row:
    async with pool.acquire() as conn, conn.transaction():
        # the offer's row lock orders concurrent creations: the limit holds
        await conn.execute(_TOUCH, offer_id)
        n = await conn.fetchval(
            "SELECT count(*) FROM offer_landers WHERE offer_id = $1 AND status <> 'archived'",
            offer_id,
        )
        if n >= MAX_LANDERS:
            raise TooMany(f"an offer has at most {MAX_LANDERS} landers that are not archived")
        row = await conn.fetchrow(
            f"""INSERT INTO offer_landers (offer_id, name, url, weight, status)
                VALUES ($1, $2, $3, $4, $5) RETURNING {_COLS}""",
            offer_id, data["name"], data["url"], data["weight"], data["status"],
        )  # fmt: skip
    return dict(row)


async def get(pool: asyncpg.Pool, offer_id: int, lander_id: int) -> Row | None:
    row = await pool.fetchrow(
        f"SELECT {_COLS} FROM offer_landers WHERE id = $1 AND offer_id = $2", lander_id, offer_id
    )
    return dict(row) if row else None


async def of_offer(pool: asyncpg.Pool, offer_id: int) -> list[Row]:
    rows = await pool.fetch(
        f"SELECT {_COLS} FROM offer_landers WHERE offer_id = $1 ORDER BY id", offer_id
    )
    return [dict(r) for r in rows]


async def update(pool: asyncpg.Pool, offer_id: int, lander_id: int,
                 changes: dict[str, Any]) -> Row | None:  # fmt: skip
    """Change a lander that is not archived (None: none such)."""
    cols = [c for c in _EDITABLE if c in changes]
    sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(cols, start=3))
    sets = f"{sets}, updated_at = now()" if sets else "updated_at = now()"
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            f"""UPDATE offer_landers SET {sets}
                 WHERE id = $1 AND offer_id = $2 AND status <> 'archived' RETURNING {_COLS}""",
            lander_id, offer_id, *(changes[c] for c in cols),
        )  # fmt: skip
        if row is not None:
            await conn.execute(_TOUCH, offer_id)
    return dict(row) if row else None


async def archive(pool: asyncpg.Pool, offer_id: int, lander_id: int) -> Row | None:
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            f"""UPDATE offer_landers SET status = 'archived', updated_at = now()
                 WHERE id = $1 AND offer_id = $2 RETURNING {_COLS}""",
            lander_id, offer_id,
        )  # fmt: skip
        if row is not None:
            await conn.execute(_TOUCH, offer_id)
    return dict(row) if row else None
