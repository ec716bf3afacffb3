"""Local days in the rollup: the phases (local midnights in UTC) that have their own rows.

A zone's days start at UTC midnight minus its offset; a zone with DST has two
offsets, so two phases. ``register`` adds the phases of a list of zones to
``rollup_day_phases`` and back-fills their rows from the rollup's own finer rows,
in one transaction that first locks the phases row FOR UPDATE: it waits for every
writer that read the old phases (FOR KEY SHARE, rollups._PHASES) to commit, so the
back-fill sees their rows, and writers that come later wait for it and then see
the new phase (docs/adr/0062). Phases are never removed: a report may rely on
every phase it reads.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from tracker.store.reports.rollups import COLUMNS, SPANS

DAY = 86400
DEFAULT_ZONES = ("Asia/Kolkata",)
# the years whose offsets count: a zone that changed its rules long ago is not asked for
_SAMPLE_FROM, _SAMPLE_YEARS = datetime(2020, 1, 1, tzinfo=UTC), 12

_BACKFILL = f"""
INSERT INTO rollup_spans AS r (span, t, affiliate_id, offer_id, {", ".join(COLUMNS)})
SELECT 86400, span_start(t, 86400, $1), affiliate_id, offer_id,
       {", ".join(f"sum({c})" for c in COLUMNS)}
  FROM rollup_spans WHERE span = $2
 GROUP BY 1, 2, 3, 4
 ORDER BY 1, 2, 3, 4"""


def phases_of(zone: str) -> set[int]:
    """The phases of a zone's days over the sampled years: one per UTC offset in use
    (every 12 hours, so both offsets of a DST zone are seen). Offsets that are not
    whole quarter hours have no rollup rows; UTC days (phase 0) are always there."""
    z = ZoneInfo(zone)
    out: set[int] = set()
    for h in range(0, _SAMPLE_YEARS * 366 * 24, 12):
        off = (_SAMPLE_FROM + timedelta(hours=h)).astimezone(z).utcoffset()
        assert off is not None
        secs = int(off.total_seconds())
        if secs % 900 == 0:
            out.add(-secs % DAY)
    out.discard(0)
    return out


async def load(conn: asyncpg.Connection) -> list[int]:
    """The registered phases, in the caller's snapshot."""
    phases = await conn.fetchval("SELECT phases FROM rollup_day_phases")
    return sorted(phases or ())


async def register(conn: asyncpg.Connection, zones: Iterable[str]) -> list[int]:
    """Add the phases of ``zones`` that are missing, back-filled; return those added."""
    want: set[int] = set()
    for zone in zones:
        want |= phases_of(zone)
    async with conn.transaction():
        have = set(await conn.fetchval("SELECT phases FROM rollup_day_phases FOR UPDATE"))
        new = sorted(want - have)
        for phase in new:
            # the coarsest UTC span that tiles the local day exactly
            span = max(s for s in SPANS[:-1] if phase % s == 0)
            await conn.execute(_BACKFILL, phase, span)
        if new:
            await conn.execute("UPDATE rollup_day_phases SET phases = $1",
                               sorted(have | set(new)))  # fmt: skip
    return new
