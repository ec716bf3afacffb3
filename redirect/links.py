"""In-process cache of links, offers and partners, refreshed in the background.

The redirect never reads Postgres for a cached code: a refresher polls for
rows changed since its last look (every ``link_refresh_s``, default 1 s), so
a change made through the API in any process reaches every process within
that time plus one query. Offers, partners and traffic rules are few and
loaded whole at start; links are many and loaded on first use (a cache miss
is the one awaited call on the redirect, and only for that first visitor), and
so is whether a partner runs an offer (the ``/click`` form's question).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from datetime import datetime, timedelta

import asyncpg

from redirect.catalog import CachedLink, CachedOffer, link_from_row, offer_from_row
from tracker.domain.traffic_rules import RuleSet, applicable, rule_set_from_row
from tracker.resources import Services
from tracker.settings import Settings
from tracker.store import entities
from tracker.store import traffic_rules as rules_store

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
        # Traffic rules by id; ``rules_version`` moves on every change, so the redirect
        # knows when the rule sets it picked for a link are stale.
        self._rules: dict[int, RuleSet] = {}
        self.rules_version = 0
        # (offer, partner) → whether the partner has an active link on the offer.
        self._runs: dict[tuple[int, int], bool] = {}
        self._pool: asyncpg.Pool | None = None
        self._since: datetime | None = None
        self._task: asyncio.Task[None] | None = None
        self.settings = Settings.model_construct()

    async def start_with(self, services: Services) -> None:
        self._pool = services.pool
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

    def rule_sets(self, offer_id: int, aff_id: int) -> tuple[RuleSet, ...]:
        """The live traffic rule sets of a click on this offer by this partner, in order."""
        return applicable(self._rules.values(), offer_id, aff_id)

    async def runs_offer(self, offer_id: int, aff_id: int) -> bool:
        """Whether the partner runs the offer (an active link on it); cached."""
        key = (offer_id, aff_id)
        hit = self._runs.get(key)
        if hit is not None:
            return hit
        assert self._pool is not None
        runs = await rules_store.runs_offer(self._pool, offer_id, aff_id)
        if len(self._runs) >= _MAX_ENTRIES:
            self._runs.clear()
        self._runs[key] = runs
        return runs

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
        if since is not None and self._runs:
            for row in await rules_store.offer_partners_changed_since(self._pool, since):
                key = (row["offer_id"], row["affiliate_id"])
                if key in self._runs:
                    self._runs[key] = row["runs"]
        changed = False
        for row in await rules_store.changed_since(self._pool, since):
            live = rule_set_from_row(row) if row["archived_at"] is None else None
            if self._rules.get(row["id"]) != live:  # rows come again within the overlap
                changed = True
                if live is None:
                    del self._rules[row["id"]]
                else:
                    self._rules[row["id"]] = live
        if changed:
            self.rules_version += 1
        self._since = now - _OVERLAP
        self._unknown.clear()

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_s)
            try:
                await self.refresh()
            except Exception:  # keep refreshing; the cache stays as it was
                log.exception("link cache refresh failed")
