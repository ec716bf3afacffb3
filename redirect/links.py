"""In-process cache of links, offers and partners, refreshed in the background.

The redirect never reads Postgres for a cached code: a refresher polls for
rows changed since its last look (every ``link_refresh_s``, default 1 s), so
a change made through the API in any process reaches every process within
that time plus one query. Offers and partners are few and loaded whole at
start; links are many and loaded on first use (a cache miss is the one
awaited call on the redirect, and only for that first visitor). The same
loop reads the click counters of capped offers (see ``redirect.caps``).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from redis.asyncio import Redis

from redirect.caps import utc_day
from redirect.catalog import CachedLink, CachedOffer, link_from_row, offer_from_row
from tracker import redis_keys
from tracker.resources import Services
from tracker.settings import Settings
from tracker.store import entities

log = logging.getLogger("tracker.redirect")

_NEGATIVE_TTL = 2.0  # seconds an unknown code stays known-unknown
_MAX_ENTRIES = 200_000
_OVERLAP = timedelta(seconds=5)  # updated_at is the writer's transaction start


class LinkCache:
    def __init__(self, refresh_s: float) -> None:
        self._refresh_s = refresh_s
        self._links: dict[str, CachedLink] = {}
        self._offers: dict[int, CachedOffer] = {}
        self._affiliates: dict[int, bool] = {}
        # The same dicts, read by the redirect's hot path without a method call each
        # (never replaced, only updated in place; the redirect only reads them).
        self.link_map, self.offer_map, self.affiliate_map = (
            self._links, self._offers, self._affiliates,
        )  # fmt: skip
        self._unknown: dict[str, float] = {}
        # Click caps: clicks this process let through per capped offer (ever), and at
        # the last count of the counters: that count (base) and the room left then.
        self._allowed: Counter[int] = Counter()
        self._base: dict[int, int] = {}
        self._room: dict[int, int] = {}
        self.flushed: Counter[int] = Counter()  # the sink's: allowed clicks now in Redis
        self._pool: asyncpg.Pool | None = None
        self._redis: Redis | None = None
        self._since: datetime | None = None
        self._task: asyncio.Task[None] | None = None
        self._failing = False
        self.settings = Settings.model_construct()

    async def start_with(self, services: Services) -> None:
        self._pool = services.pool
        self._redis = services.redis
        self.settings = services.settings
        await self.refresh()
        self._task = asyncio.create_task(self._refresh_loop(), name="link-refresh")
        # Everything made at start (the app, its models, the caches so far) is kept for
        # the process's life: freezing it spares every full collection a walk over it,
        # which otherwise stalls the event loop for tens of milliseconds.
        # Then collect the young generation less often and the old one rarely: a click
        # leaves no cycles behind (the sink buffers bytes), so little is ever found there.
        gc.collect()
        gc.freeze()
        gc.set_threshold(10_000, 20, 1_000)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    # -- the hot path: dictionary reads only -----------------------------------
    def get(self, code: str) -> CachedLink | None:
        return self._links.get(code)

    def offer(self, offer_id: int) -> CachedOffer | None:
        return self._offers.get(offer_id)

    def affiliate_active(self, aff_id: int) -> bool:
        return self._affiliates.get(aff_id, False)

    def over_cap(self, offer: CachedOffer) -> bool:
        """Whether a capped offer has no room left; counts this click if it has."""
        if not offer.capped:
            return False
        oid = offer.offer_id
        room = self._room.get(oid)
        if room is None:  # not counted yet (just created, or Redis never answered)
            return False
        allowed = self._allowed[oid]
        if allowed - self._base[oid] >= room:
            return True
        self._allowed[oid] = allowed + 1
        return False

    async def load(self, code: str) -> CachedLink | None:
        """Cache miss: read the code once; remember unknown codes briefly."""
        if not self._first_look(code):
            return None
        assert self._pool is not None
        row = await entities.resolve_link(self._pool, code)
        if row is None:
            self._not_found(code)
            return None
        link = link_from_row(row)
        if len(self._links) < _MAX_ENTRIES:
            self._links[code] = link
        return link

    async def load_offer(self, offer_id: int) -> CachedOffer | None:
        """An offer created since the last refresh (its link was just loaded)."""
        hit = self._offers.get(offer_id)
        if hit is not None or not self._first_look(f"o:{offer_id}"):
            return hit
        assert self._pool is not None
        row = await entities.get_offer(self._pool, offer_id)
        if row is None:
            self._not_found(f"o:{offer_id}")
            return None
        offer = self._offers[offer_id] = offer_from_row(row)
        return offer

    async def load_affiliate(self, aff_id: int) -> bool:
        if aff_id in self._affiliates or not self._first_look(f"a:{aff_id}"):
            return self._affiliates.get(aff_id, False)
        assert self._pool is not None
        row = await entities.get_affiliate(self._pool, aff_id)
        if row is None:
            self._not_found(f"a:{aff_id}")
            return False
        active: bool = row["status"] == "active"
        self._affiliates[aff_id] = active
        return active

    def _first_look(self, key: str) -> bool:
        """False when ``key`` was looked up and not found within the last seconds."""
        seen = self._unknown.get(key)
        return seen is None or time.monotonic() - seen >= _NEGATIVE_TTL

    def _not_found(self, key: str) -> None:
        if len(self._unknown) > _MAX_ENTRIES:
            self._unknown.clear()
        self._unknown[key] = time.monotonic()

    # -- the refresher ------------------------------------------------------------
    async def refresh(self) -> None:
        assert self._pool is not None
        now = await self._pool.fetchval("SELECT now()")
        since = self._since
        for row in await entities.offers_changed_since(self._pool, since):
            self._offers[row["id"]] = offer_from_row(row)
        for row in await entities.affiliates_changed_since(self._pool, since):
            self._affiliates[row["id"]] = row["status"] == "active"
        if since is not None and self._links:
            for row in await entities.links_changed_since(self._pool, since, list(self._links)):
                self._links[row["code"]] = link_from_row(row)
        self._since = now - _OVERLAP
        self._unknown.clear()
        await self._count_caps()

    async def _count_caps(self) -> None:
        capped = [o for o in self._offers.values() if o.capped]
        if not capped or self._redis is None:
            self._room, self._base = {}, {}
            return
        ids = [o.offer_id for o in capped]
        s = self.settings
        keys = [(redis_keys.of(s).click_count(i, utc_day()), redis_keys.of(s).click_count(i, "total"))
                for i in range(s.stream_shards)]  # fmt: skip
        # Clicks let through but not yet in Redis (in the sink's batch, or spooled) are
        # added to the counts; snapshot before the read, so that a batch landing during
        # it is counted twice at worst (a cap met early, until the next count).
        base = {i: self._allowed[i] for i in ids}
        unflushed = {i: base[i] - self.flushed[i] for i in ids}
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for day_key, total_key in keys:
                    pipe.hmget(day_key, ids)
                    pipe.hmget(total_key, ids)
                replies: list[Any] = await asyncio.wait_for(pipe.execute(), s.sink_deadline_s)
        except Exception as exc:  # Redis away: keep the room and go on counting locally
            if not self._failing:
                log.warning("click caps: cannot read counters, keeping last state: %r", exc)
            self._failing = True
            return
        self._failing = False
        daily = Counter[int]()
        total = Counter[int]()
        for n, reply in enumerate(replies):
            target = daily if n % 2 == 0 else total
            for offer_id, value in zip(ids, reply, strict=True):
                target[offer_id] += int(value or 0)
        room: dict[int, int] = {}
        for o in capped:
            pending = max(0, unflushed[o.offer_id])
            left = [cap - used - pending for cap, used in ((o.daily_cap, daily[o.offer_id]),
                                                           (o.total_cap, total[o.offer_id])) if cap]  # fmt: skip
            room[o.offer_id] = max(0, min(left))
        self._base, self._room = base, room

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_s)
            try:
                await self.refresh()
            except Exception:  # keep refreshing; the cache stays as it was
                log.exception("link cache refresh failed")
