"""Partner postback settings and their deliveries."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from schemas.partner_postbacks import PartnerPostbackIn

Row = dict[str, Any]


async def create(pool: asyncpg.Pool, data: PartnerPostbackIn) -> Row:
    row = await pool.fetchrow(
        """INSERT INTO partner_postbacks (affiliate_id, offer_id, goal, url_template, method, events,
                                          secret, sign_get)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *""",
        data.affiliate_id, data.offer_id, data.goal, data.url_template, data.method,
        list(dict.fromkeys(data.events)), secrets.token_urlsafe(32), data.sign_get,
    )  # fmt: skip
    return dict(row)


async def update(pool: asyncpg.Pool, postback_id: int, changes: dict[str, Any]) -> Row | None:
    """Change the given columns (names come from PartnerPostbackPatch, never from callers)."""
    cols = list(changes)
    sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(cols, start=2))
    row = await pool.fetchrow(
        f"UPDATE partner_postbacks SET {sets}, updated_at = now() WHERE id = $1 RETURNING *",
        postback_id, *changes.values(),
    )  # fmt: skip
    return dict(row) if row else None


async def get(pool: asyncpg.Pool, postback_id: int) -> Row | None:
    row = await pool.fetchrow("SELECT * FROM partner_postbacks WHERE id = $1", postback_id)
    return dict(row) if row else None


async def list_for(
    pool: asyncpg.Pool, affiliate_id: int | None, limit: int, after_id: int = 0
) -> list[Row]:
    rows = await pool.fetch(
        """SELECT * FROM partner_postbacks WHERE ($1::bigint IS NULL OR affiliate_id = $1)
              AND id > $3 ORDER BY id LIMIT $2""",
        affiliate_id, limit, after_id,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def delivery(pool: asyncpg.Pool, delivery_id: UUID) -> Row | None:
    row = await pool.fetchrow("SELECT * FROM postback_outbox WHERE id = $1", delivery_id)
    if row is None:
        return None
    out = dict(row)
    attempts = await pool.fetch(
        "SELECT * FROM postback_attempts WHERE outbox_id = $1 ORDER BY attempted_at, id",
        delivery_id,
    )
    out["attempt_log"] = [dict(a) for a in attempts]
    return out


async def deliveries(
    pool: asyncpg.Pool, state: str | None, affiliate_id: int | None, limit: int,
    before: tuple[datetime, UUID] | None = None,
) -> list[Row]:  # fmt: skip
    """Newest first; ``before`` is the (created_at, id) of the last row of the previous page."""
    at, ident = before if before is not None else (None, None)
    rows = await pool.fetch(
        """SELECT * FROM postback_outbox
            WHERE ($1::text IS NULL OR state = $1) AND ($2::bigint IS NULL OR affiliate_id = $2)
              AND ($4::timestamptz IS NULL OR (created_at, id) < ($4, $5::uuid))
            ORDER BY created_at DESC, id DESC LIMIT $3""",
        state, affiliate_id, limit, at, ident,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def replay(
    pool: asyncpg.Pool, ids: list[UUID], dead_of: int | None, all_dead: bool, window_s: int,
    affiliate_scope: int | None,
) -> int:  # fmt: skip
    """Send again now, with a fresh retry window. Delivered rows are left alone. A row
    whose attempt is in flight keeps its lease (it is not sent twice at once); the
    sender sees ``replays`` changed and, if that attempt fails, tries again at once."""
    status = await pool.execute(
        """UPDATE postback_outbox
              SET state = 'pending', next_attempt_at = now(), replays = replays + 1,
                  deliver_until = now() + make_interval(secs => $4)
            WHERE state <> 'delivered'
              AND (id = ANY($1::uuid[]) OR ($3 AND state = 'dead' AND ($2::bigint IS NULL OR affiliate_id = $2)))
              AND ($5::bigint IS NULL OR affiliate_id = $5)""",
        ids, dead_of, all_dead, window_s, affiliate_scope,
    )  # fmt: skip
    return int(status.split()[-1])
