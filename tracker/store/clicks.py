"""Reading clicks back."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from tracker.domain.ids import uuid7_time_ms


async def get_click(pool: asyncpg.Pool, click_id: UUID) -> dict[str, Any] | None:
    # The id carries its own timestamp: narrow the search to its partition.
    ms = uuid7_time_ms(click_id)
    row = await pool.fetchrow(
        """SELECT * FROM clicks
            WHERE click_id = $1
              AND created_at >= to_timestamp($2 / 1000.0) - interval '1 day'
              AND created_at <  to_timestamp($2 / 1000.0) + interval '1 day'""",
        click_id,
        ms,
    )
    return dict(row) if row else None
