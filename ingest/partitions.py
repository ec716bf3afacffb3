"""Daily partitions of ``clicks``, created before a batch needs them."""

from __future__ import annotations

from datetime import date, timedelta

import asyncpg


def partition_name(day: date) -> str:
    return f"clicks_{day:%Y%m%d}"


class Partitions:
    def __init__(self) -> None:
        self._known: set[date] = set()

    async def ensure(self, pool: asyncpg.Pool, days: set[date]) -> None:
        missing = days - self._known
        for day in sorted(missing):
            nxt = day + timedelta(days=1)
            try:
                await pool.execute(
                    f"CREATE TABLE IF NOT EXISTS {partition_name(day)} PARTITION OF clicks "
                    f"FOR VALUES FROM ('{day.isoformat()} 00:00+00') TO ('{nxt.isoformat()} 00:00+00')"
                )
            except (asyncpg.DuplicateTableError, asyncpg.UniqueViolationError):
                pass  # another worker made it between our check and our create
            self._known.add(day)
