"""Traffic rules in Postgres: management (the API) and the redirect's refresh.

Rows are never deleted: ``archive`` retires a rule set (``archived_at``), and the
redirect drops it at its next refresh (``updated_at`` moves on every change).
"""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson

Row = dict[str, Any]
_COLS = "id, offer_id, affiliate_id, name, datacenter, ip_blocklist::text[] AS ip_blocklist, " \
        "sub_blocklist::text AS sub_blocklist, ua_blocklist, archived_at, created_at, updated_at"  # fmt: skip
_EDITABLE = ("name", "datacenter", "ip_blocklist", "sub_blocklist", "ua_blocklist")


def _row(record: asyncpg.Record | None) -> Row | None:
    if record is None:
        return None
    row = dict(record)
    row["sub_blocklist"] = orjson.loads(row["sub_blocklist"] or "{}")
    return row


def _value(column: str, value: Any) -> Any:
    return orjson.dumps(value).decode() if column == "sub_blocklist" else value


async def create(pool: asyncpg.Pool, data: dict[str, Any]) -> Row:
    row = await pool.fetchrow(
        f"""INSERT INTO traffic_rules (offer_id, affiliate_id, name, datacenter, ip_blocklist,
                                       sub_blocklist, ua_blocklist)
            VALUES ($1, $2, $3, $4, $5::text[]::cidr[], $6::jsonb, $7) RETURNING {_COLS}""",
        data["offer_id"], data["affiliate_id"], data["name"], data["datacenter"],
        data["ip_blocklist"], _value("sub_blocklist", data["sub_blocklist"]), data["ua_blocklist"],
    )  # fmt: skip
    out = _row(row)
    assert out is not None
    return out


async def get(pool: asyncpg.Pool, rule_id: int) -> Row | None:
    return _row(await pool.fetchrow(f"SELECT {_COLS} FROM traffic_rules WHERE id = $1", rule_id))


async def update(pool: asyncpg.Pool, rule_id: int, changes: dict[str, Any]) -> Row | None:
    cols = [c for c in _EDITABLE if c in changes]
    casts = {"ip_blocklist": "::text[]::cidr[]", "sub_blocklist": "::jsonb"}
    sets = ", ".join(f"{c} = ${i}{casts.get(c, '')}" for i, c in enumerate(cols, start=2))
    sets = f"{sets}, updated_at = now()" if sets else "updated_at = now()"
    return _row(await pool.fetchrow(
        f"UPDATE traffic_rules SET {sets} WHERE id = $1 AND archived_at IS NULL RETURNING {_COLS}",
        rule_id, *(_value(c, changes[c]) for c in cols),
    ))  # fmt: skip


async def archive(pool: asyncpg.Pool, rule_id: int) -> Row | None:
    return _row(await pool.fetchrow(
        f"""UPDATE traffic_rules SET archived_at = coalesce(archived_at, now()), updated_at = now()
             WHERE id = $1 RETURNING {_COLS}""", rule_id,
    ))  # fmt: skip


async def page(pool: asyncpg.Pool, *, after_id: int, limit: int, offer_id: int | None,
               affiliate_id: int | None, archived: bool | None) -> list[Row]:  # fmt: skip
    rows = await pool.fetch(
        f"""SELECT {_COLS} FROM traffic_rules
             WHERE id > $1 AND ($2::int8 IS NULL OR offer_id = $2)
               AND ($3::int8 IS NULL OR affiliate_id = $3)
               AND ($4::bool IS NULL OR (archived_at IS NOT NULL) = $4)
             ORDER BY id LIMIT $5""",
        after_id, offer_id, affiliate_id, archived, limit,
    )  # fmt: skip
    return [r for r in map(_row, rows) if r is not None]


async def changed_since(pool: asyncpg.Pool, since: Any) -> list[Row]:
    """Rule sets changed after ``since`` (every live one when None), archived ones too."""
    if since is None:
        rows = await pool.fetch(f"SELECT {_COLS} FROM traffic_rules WHERE archived_at IS NULL")
    else:
        rows = await pool.fetch(f"SELECT {_COLS} FROM traffic_rules WHERE updated_at > $1", since)
    return [r for r in map(_row, rows) if r is not None]


async def offer_partners_changed_since(pool: asyncpg.Pool, since: Any) -> list[Row]:
    """(offer, partner, runs) of the pairs whose links changed after ``since``: a partner
    runs an offer while it has an active link on it (the /click form pays only them)."""
    rows = await pool.fetch(
        """SELECT offer_id, affiliate_id, bool_or(status = 'active') AS runs
             FROM tracking_links
            WHERE (offer_id, affiliate_id) IN
                  (SELECT offer_id, affiliate_id FROM tracking_links WHERE updated_at > $1)
            GROUP BY 1, 2""",
        since,
    )
    return [dict(r) for r in rows]


async def runs_offer(pool: asyncpg.Pool, offer_id: int, affiliate_id: int) -> bool:
    found: bool | None = await pool.fetchval(
        """SELECT true FROM tracking_links
            WHERE offer_id = $1 AND affiliate_id = $2 AND status = 'active' LIMIT 1""",
        offer_id, affiliate_id,
    )  # fmt: skip
    return bool(found)
