"""asyncpg pool with client-side timeouts on acquire and on every statement."""

from __future__ import annotations

import asyncpg

from tracker.settings import Settings


async def open_pool(
    settings: Settings, dsn: str, *, min_size: int = 1, max_size: int = 10
) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        timeout=settings.db_timeout_s,  # connect timeout
        command_timeout=settings.db_timeout_s,  # client-side bound on each statement
        server_settings={"timezone": "UTC", "application_name": "tracker"},
    )
