"""Atomic cap reservation: a conditional upsert on one counter row per cap and period.

The row lock taken by ``INSERT … ON CONFLICT DO UPDATE`` serialises parallel
postbacks on the same counter; the ``WHERE`` refuses an increment that would
pass the limit, so the counter can never overshoot. Caps are taken in id
order (no deadlock), inside a savepoint undone when any of them is full.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from tracker.domain.caps import Cap, period_key, usage

_TAKE = """
INSERT INTO cap_usage AS u (cap_id, period_key, used)
SELECT $1::bigint, $2::text, $3::numeric WHERE $3::numeric <= $4::numeric
ON CONFLICT (cap_id, period_key) DO UPDATE SET used = u.used + EXCLUDED.used
 WHERE u.used + EXCLUDED.used <= $4::numeric
RETURNING used
"""


async def reserve(
    conn: asyncpg.Connection, caps: list[Cap], at: datetime, tz: str, payout: Decimal
) -> tuple[list[list[object]] | None, list[dict[str, object]]]:
    """(usage taken, or None when a cap is full; what each cap said)."""
    taken: list[list[object]] = []
    report: list[dict[str, object]] = []
    # A savepoint gives back the caps taken before a full one; with one cap there is nothing to give.
    scope = conn.transaction() if len(caps) > 1 else contextlib.nullcontext()
    async with scope:
        for cap in caps:
            key = period_key(cap.period, at, tz)
            amount = usage(cap, payout)
            used = await conn.fetchval(_TAKE, cap.id, key, amount, cap.limit)
            entry = {"cap_id": cap.id, "period": cap.period, "key": key, "metric": cap.metric,
                     "limit": str(cap.limit)}  # fmt: skip
            if used is None:
                report.append({**entry, "outcome": "full"})
                # Leave the savepoint by raising, so the caps taken so far are given back.
                raise _Full(report)
            report.append({**entry, "outcome": "ok", "used": str(used)})
            taken.append([cap.id, key, str(amount)])
    return taken, report


class _Full(Exception):
    def __init__(self, report: list[dict[str, object]]) -> None:
        super().__init__("cap full")
        self.report = report


async def try_reserve(
    conn: asyncpg.Connection, caps: list[Cap], at: datetime, tz: str, payout: Decimal
) -> tuple[list[list[object]] | None, list[dict[str, object]]]:
    try:
        return await reserve(conn, caps, at, tz, payout)
    except _Full as full:
        return None, full.report


_MOVE = "UPDATE cap_usage SET used = used + $3 WHERE cap_id = $1 AND period_key = $2"


async def give_back(conn: asyncpg.Connection, taken: list[list[Any]]) -> None:
    """Return the usage a conversion held (it leaves the counted statuses, or reserves again)."""
    for cap_id, key, amount in taken:
        await conn.execute(_MOVE, cap_id, key, -Decimal(str(amount)))


async def lower(
    conn: asyncpg.Connection, taken: list[list[Any]], caps: list[Cap], payout: Decimal
) -> list[list[Any]]:
    """A counted conversion whose payout went down (or stayed): its payout caps' usage
    follows it down; nothing goes up, so no limit can be passed."""
    metric = {c.id: c.metric for c in caps}
    out: list[list[Any]] = []
    for cap_id, key, amount in taken:
        old = Decimal(str(amount))
        if metric.get(cap_id) == "payout" and payout < old:
            await conn.execute(_MOVE, cap_id, key, payout - old)
            amount = str(payout)
        out.append([cap_id, key, amount])
    return out
