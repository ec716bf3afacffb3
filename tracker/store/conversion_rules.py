"""Writing the rules that price conversions: settings, goals, overrides, tiers, caps,
promo codes, currency rates."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg

from schemas.conversions import (
    CapIn,
    ConversionSettingsIn,
    GoalIn,
    OverrideIn,
    PromoCodeIn,
    RateIn,
    RevenueRuleIn,
    TierIn,
)
from tracker.store import price_terms
from tracker.store.rule_lists import open_ends

Row = dict[str, Any]
_SETTINGS = [f for f in ConversionSettingsIn.model_fields if f != "attribution_window_days"]


async def save_settings(pool: asyncpg.Pool, offer_id: int, data: ConversionSettingsIn) -> Row:
    """Replace every setting (PUT): a setting left out takes its default."""
    async with pool.acquire() as conn, conn.transaction():
        return await _write_settings(conn, offer_id, data)


async def patch_settings(pool: asyncpg.Pool, offer_id: int, changes: dict[str, Any]) -> Row:
    """Change the settings given (PATCH); every other one stays as it is."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT 1 FROM offers WHERE id = $1 FOR UPDATE", offer_id)
        current = await _read_settings(conn, offer_id)
        assert current is not None
        merged = {k: v for k, v in current.items() if k in ConversionSettingsIn.model_fields}
        return await _write_settings(conn, offer_id, ConversionSettingsIn(**{**merged, **changes}))


async def _write_settings(
    conn: asyncpg.Connection, offer_id: int, data: ConversionSettingsIn
) -> Row:
    values = [getattr(data, f) for f in _SETTINGS]
    cols = ", ".join(_SETTINGS)
    marks = ", ".join(f"${i + 2}" for i in range(len(_SETTINGS)))
    sets = ", ".join(f"{f} = EXCLUDED.{f}" for f in _SETTINGS)
    row = await conn.fetchrow(
        f"""INSERT INTO offer_conversion_settings (offer_id, {cols}) VALUES ($1, {marks})
            ON CONFLICT (offer_id) DO UPDATE SET {sets}, updated_at = now() RETURNING *""",
        offer_id, *values,
    )  # fmt: skip
    await conn.execute(
        "UPDATE offers SET attribution_window_days = $2, updated_at = now() WHERE id = $1",
        offer_id, data.attribution_window_days,
    )  # fmt: skip
    return {**dict(row), "attribution_window_days": data.attribution_window_days}


async def get_settings(pool: asyncpg.Pool, offer_id: int) -> Row | None:
    async with pool.acquire() as conn:
        return await _read_settings(conn, offer_id)


async def _read_settings(conn: asyncpg.Connection, offer_id: int) -> Row | None:
    row = await conn.fetchrow(
        """SELECT o.id AS offer_id, o.attribution_window_days, s.* FROM offers o
           LEFT JOIN offer_conversion_settings s ON s.offer_id = o.id WHERE o.id = $1""",
        offer_id,
    )
    if row is None:
        return None
    out = {k: v for k, v in dict(row).items() if v is not None}
    out["offer_id"] = offer_id
    return out


async def save_goal(pool: asyncpg.Pool, offer_id: int, code: str, g: GoalIn,
                    actor: str = "api") -> Row:  # fmt: skip
    """The goal; a change of its prices applies from now on (dated terms, docs/adr/0081)."""
    async with pool.acquire() as conn, conn.transaction():
        prices = {f: getattr(g, f) for f in price_terms.GOAL_FIELDS}
        await price_terms.change_goal(conn, offer_id, code, prices, actor)
        return await _save_goal(conn, offer_id, code, g)


async def _save_goal(conn: asyncpg.Connection, offer_id: int, code: str, g: GoalIn) -> Row:
    row = await conn.fetchrow(
        """INSERT INTO offer_goals (offer_id, code, name, multiple, max_count, max_months,
               payout_flat, payout_percent, revenue_flat, revenue_percent)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (offer_id, code) DO UPDATE SET name = EXCLUDED.name,
               multiple = EXCLUDED.multiple, max_count = EXCLUDED.max_count,
               max_months = EXCLUDED.max_months, payout_flat = EXCLUDED.payout_flat,
               payout_percent = EXCLUDED.payout_percent, revenue_flat = EXCLUDED.revenue_flat,
               revenue_percent = EXCLUDED.revenue_percent
           RETURNING *""",
        offer_id, code, g.name, g.multiple, g.max_count, g.max_months, g.payout_flat,
        g.payout_percent, g.revenue_flat, g.revenue_percent,
    )  # fmt: skip
    return dict(row)


async def add_override(pool: asyncpg.Pool, offer_id: int, o: OverrideIn) -> Row:
    row = await pool.fetchrow(
        """INSERT INTO payout_overrides (offer_id, affiliate_id, goal, valid_from, valid_to,
               payout_flat, payout_percent) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *""",
        offer_id, o.affiliate_id, o.goal, o.valid_from, o.valid_to, o.payout_flat, o.payout_percent,
    )  # fmt: skip
    return dict(row)


async def add_revenue_rule(pool: asyncpg.Pool, offer_id: int, r: RevenueRuleIn) -> Row:
    row = await pool.fetchrow(
        """INSERT INTO revenue_rules (offer_id, affiliate_id, goal, valid_from, valid_to,
               revenue_flat, revenue_percent) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *""",
        offer_id, r.affiliate_id, r.goal, r.valid_from, r.valid_to, r.revenue_flat,
        r.revenue_percent,
    )  # fmt: skip
    return dict(row)


async def add_tier(pool: asyncpg.Pool, offer_id: int, t: TierIn) -> Row:
    row = await pool.fetchrow(
        """INSERT INTO payout_tiers (offer_id, goal, metric, threshold, payout_flat, payout_percent,
               valid_from, valid_to) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *""",
        offer_id, t.goal, t.metric, t.threshold, t.payout_flat, t.payout_percent, t.valid_from,
        t.valid_to,
    )  # fmt: skip
    return dict(row)


_CAP = "RETURNING *, cap_limit AS limit"


async def add_cap(pool: asyncpg.Pool, offer_id: int, c: CapIn) -> Row:
    row = await pool.fetchrow(
        f"""INSERT INTO conversion_caps (offer_id, affiliate_id, period, metric, cap_limit)
            VALUES ($1, $2, $3, $4, $5) {_CAP}""",
        offer_id, c.affiliate_id, c.period, c.metric, c.limit,
    )  # fmt: skip
    return dict(row)


async def change_cap(pool: asyncpg.Pool, offer_id: int, cap_id: int, limit: Decimal
                     ) -> Row | None:  # fmt: skip
    """Set a cap's limit; None when the offer has no such cap. An archived cap keeps
    its last limit (``Archived``)."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "SELECT archived_at FROM conversion_caps WHERE id = $1 AND offer_id = $2 FOR UPDATE",
            cap_id, offer_id,
        )  # fmt: skip
        if row is None:
            return None
        if row["archived_at"] is not None:
            raise Archived(f"cap {cap_id} is archived")
        changed = await conn.fetchrow(
            f"UPDATE conversion_caps SET cap_limit = $2, updated_at = now() WHERE id = $1 {_CAP}",
            cap_id, limit,
        )  # fmt: skip
    return dict(changed)


async def archive_cap(pool: asyncpg.Pool, offer_id: int, cap_id: int) -> Row | None:
    """Stop applying a cap (idempotent: archiving twice keeps the first time)."""
    row = await pool.fetchrow(
        f"""UPDATE conversion_caps SET archived_at = coalesce(archived_at, now()),
                   updated_at = coalesce(archived_at, now())
             WHERE id = $1 AND offer_id = $2 {_CAP}""",
        cap_id, offer_id,
    )  # fmt: skip
    return dict(row) if row is not None else None


class Archived(Exception):
    """The rule is archived and cannot change any more."""


async def add_promo_code(pool: asyncpg.Pool, p: PromoCodeIn) -> Row:
    row = await pool.fetchrow(
        """INSERT INTO promo_codes (offer_id, affiliate_id, code, starts_at, ends_at,
               payout_flat, payout_percent)
           VALUES ($1, $2, $3, coalesce($4, '-infinity'::timestamptz),
                   coalesce($5, 'infinity'::timestamptz), $6, $7) RETURNING *""",
        p.offer_id, p.affiliate_id, p.code, p.starts_at, p.ends_at, p.payout_flat, p.payout_percent,
    )  # fmt: skip
    return open_ends(dict(row), "starts_at", "ends_at")


async def end_rule(pool: asyncpg.Pool, what: str, offer_id: int | None, ident: int,
                   ends: datetime) -> Row | None:  # fmt: skip
    """Set the end of a payout override or tier (``valid_to``) or a promo code (``ends_at``);
    None when there is no such rule (of that offer). Refused before its start."""
    table, start, end = {"override": ("payout_overrides", "valid_from", "valid_to"),
                         "tier": ("payout_tiers", "valid_from", "valid_to"),
                         "revenue_rule": ("revenue_rules", "valid_from", "valid_to"),
                         "promo_code": ("promo_codes", "starts_at", "ends_at")}[what]  # fmt: skip
    row = await pool.fetchrow(
        f"""UPDATE {table} SET {end} = $3 WHERE id = $1 AND ($2::bigint IS NULL OR offer_id = $2)
              AND ({start} IS NULL OR {start} < $3) RETURNING *""",
        ident, offer_id, ends,
    )  # fmt: skip
    if row is None:
        exists = await pool.fetchval(
            f"SELECT true FROM {table} WHERE id = $1 AND ($2::bigint IS NULL OR offer_id = $2)",
            ident, offer_id,
        )  # fmt: skip
        if exists:
            raise ValueError(f"{end} must be after {start}")
        return None
    return open_ends(dict(row), start, end)


async def set_rate(pool: asyncpg.Pool, r: RateIn) -> Row:
    row = await pool.fetchrow(
        """INSERT INTO currency_rates (base, quote, rate, valid_from) VALUES ($1, $2, $3, $4)
           ON CONFLICT (base, quote, valid_from) DO UPDATE SET rate = EXCLUDED.rate RETURNING *""",
        r.base, r.quote, r.rate, r.valid_from or datetime.now(UTC),
    )  # fmt: skip
    return dict(row)
