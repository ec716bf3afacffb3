"""In-process cache of tracking links, refreshed from Postgres in the background.

The redirect never reads Postgres for a cached code: a refresher polls for
links and offers changed since its last look (every ``link_refresh_s``), so
a change made through any process reaches every process within that time.
A code seen for the first time is read once (a cache miss is the one
awaited call on the redirect, and only for that first visitor).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from tracker.domain.macros import Template, compile_template
from tracker.services import Services
from tracker.store import entities

log = logging.getLogger("tracker.redirect")

_NEGATIVE_TTL = 2.0  # seconds an unknown code stays known-unknown
_MAX_ENTRIES = 200_000


@dataclass(frozen=True, slots=True)
class CachedLink:
    link_id: int
    code: str
    offer_id: int
    aff_id: int
    subs: tuple[str | None, ...]
    template: Template
    active: bool


def _cached(row: dict[str, Any]) -> CachedLink:
    return CachedLink(
        link_id=row["link_id"],
        code=row["code"],
        offer_id=row["offer_id"],
        aff_id=row["affiliate_id"],
        subs=(row["sub1"], row["sub2"], row["sub3"], row["sub4"], row["sub5"]),
        template=compile_template(row["landing_url"]),
        active=row["link_status"] == "active" and row["offer_status"] == "active",
    )


class LinkCache:
    def __init__(self, refresh_s: float) -> None:
        self._refresh_s = refresh_s
        self._links: dict[str, CachedLink] = {}
        self._unknown: dict[str, float] = {}
        self._pool: asyncpg.Pool | None = None
        self._since: datetime | None = None
        self._task: asyncio.Task[None] | None = None

    async def start_with(self, services: Services) -> None:
        self._pool = services.pool
        self._since = await self._pool.fetchval("SELECT now()")
        self._task = asyncio.create_task(self._refresh_loop(), name="link-refresh")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def get(self, code: str) -> CachedLink | None:
        return self._links.get(code)

    async def load(self, code: str) -> CachedLink | None:
        """Cache miss: read the code once; remember unknown codes briefly."""
        seen = self._unknown.get(code)
        if seen is not None and time.monotonic() - seen < _NEGATIVE_TTL:
            return None
        assert self._pool is not None
        row = await entities.resolve_link(self._pool, code)
        if row is None:
            if len(self._unknown) > _MAX_ENTRIES:
                self._unknown.clear()
            self._unknown[code] = time.monotonic()
            return None
        link = _cached(row)
        if len(self._links) < _MAX_ENTRIES:
            self._links[code] = link
        return link

    async def refresh(self) -> None:
        assert self._pool is not None
        now = await self._pool.fetchval("SELECT now()")
        rows = await entities.links_changed_since(self._pool, self._since, list(self._links))
        for row in rows:
            self._links[row["code"]] = _cached(row)
        # updated_at is the writer's transaction start: keep a few seconds of
        # overlap so that a change committed after this read is still seen.
        self._since = now - timedelta(seconds=5)
        self._unknown.clear()

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_s)
            try:
                await self.refresh()
            except Exception:  # keep refreshing; the cache stays as it was
                log.exception("link cache refresh failed")
