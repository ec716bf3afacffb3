"""Apply the numbered SQL files of the ``migrations`` package, in order, once.

All of it runs under a transaction-level advisory lock, so two processes
migrating at once serialise: the second finds everything recorded and does
nothing. Each file is applied and recorded in the same transaction.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

import asyncpg

from tracker.store.reports import days
from tracker.store.reports.days import DEFAULT_ZONES

log = logging.getLogger("tracker")
_LOCK_ID = 0x7472_6B6D  # "trkm"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover() -> list[Migration]:
    found = []
    for entry in resources.files("migrations").iterdir():
        m = _NAME.match(entry.name)
        if m:
            found.append(Migration(int(m.group(1)), entry.name, entry.read_text("utf-8")))
    found.sort(key=lambda mig: mig.version)
    versions = [mig.version for mig in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a number: {versions}")
    return found


class ChecksumMismatch(RuntimeError):
    pass


async def migrate(conn: asyncpg.Connection) -> list[str]:
    """Apply what is missing; return the names applied by this call."""
    applied: list[str] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_ID)
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version    integer PRIMARY KEY,
                   name       text NOT NULL,
                   checksum   text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        done = {
            r["version"]: r["checksum"]
            for r in await conn.fetch("SELECT version, checksum FROM schema_migrations")
        }
        for mig in discover():
            if mig.version in done:
                if done[mig.version] != mig.checksum:
                    raise ChecksumMismatch(f"{mig.name} changed after it was applied")
                continue
            await conn.execute(mig.sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                mig.version,
                mig.name,
                mig.checksum,
            )
            applied.append(mig.name)
    return applied


async def migrate_dsn(dsn: str, report_zones: Sequence[str] = DEFAULT_ZONES) -> list[str]:
    """Migrate, then give the zones reports are read in their local-day rollup rows."""
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        applied = await migrate(conn)
        for p in await days.register(conn, report_zones):
            log.info("reports: local days from %02d:%02d UTC added", p // 3600, p % 3600 // 60)
        return applied
    finally:
        await conn.close()
