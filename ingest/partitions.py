"""Daily partitions of ``clicks`` and ``impressions``: created ahead, dropped at retention.

Rollups are never dropped. Dropping a partition needs a short exclusive
lock on the parent table, so it runs under ``lock_timeout`` and simply
tries again at the next maintenance when inserts keep it busy.
"""

from __future__ import annotations

import logging
import re
from datetime import date, timedelta

import asyncpg

log = logging.getLogger("tracker.ingest")

TABLES = ("clicks", "impressions")
_LOCK_ID = 0x7472_6B70  # "trkp": one maintainer at a time
_SUFFIX = re.compile(r"_(\d{8})$")


def partition_name(day: date, table: str = "clicks") -> str:
    return f"{table}_{day:%Y%m%d}"


class Partitions:
    def __init__(self) -> None:
        self._known: set[date] = set()

    async def ensure(self, pool: asyncpg.Pool, days: set[date]) -> None:
        """Create the partitions these days need (each checked once per process)."""
        for day in sorted(days - self._known):
            for table in TABLES:
                await create(pool, table, day)
            self._known.add(day)


async def create(pool: asyncpg.Pool | asyncpg.Connection, table: str, day: date) -> None:
    nxt = day + timedelta(days=1)
    try:
        await pool.execute(
            f"CREATE TABLE IF NOT EXISTS {partition_name(day, table)} PARTITION OF {table} "
            f"FOR VALUES FROM ('{day.isoformat()} 00:00+00') TO ('{nxt.isoformat()} 00:00+00')"
        )
    except (asyncpg.DuplicateTableError, asyncpg.UniqueViolationError):
        pass  # another worker made it between our check and our create


async def maintain(
    pool: asyncpg.Pool, today: date, *, ahead_days: int, retention_days: int
) -> list[str] | None:
    """Create tomorrow's partitions, drop those past retention; None when another
    worker holds the maintenance lock. Returns the partitions dropped."""
    dropped: list[str] = []
    async with pool.acquire() as conn:
        if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", _LOCK_ID):
            return None
        try:
            for i in range(ahead_days + 1):
                for table in TABLES:
                    await create(conn, table, today + timedelta(days=i))
            oldest_kept = today - timedelta(days=retention_days)
            for table in TABLES:
                names = await conn.fetch(
                    """SELECT c.relname FROM pg_inherits i
                         JOIN pg_class c ON c.oid = i.inhrelid
                         JOIN pg_class p ON p.oid = i.inhparent
                        WHERE p.relname = $1""",
                    table,
                )
                for (name,) in names:
                    m = _SUFFIX.search(name)
                    if not m or date(int(m[1][:4]), int(m[1][4:6]), int(m[1][6:])) >= oldest_kept:
                        continue
                    try:
                        async with conn.transaction():
                            await conn.execute("SET LOCAL lock_timeout = '2s'")
                            await conn.execute(f'DROP TABLE IF EXISTS "{name}"')
                        dropped.append(name)
                    except asyncpg.LockNotAvailableError:
                        log.info("partition %s busy; dropping it at the next maintenance", name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_ID)
    if dropped:
        log.info("retention: dropped %s", ", ".join(dropped))
    return dropped
