"""Clicks and impressions on smart links (issue 20, docs/adr/0110): the route that takes
the visitor (redirect.routing), else the link's fallback chain. The front hands a smart
link's hits here, with what they share with a plain link's: the redirect itself, the
record of a blocked click, the visitor's facts and ``{country}``."""

from __future__ import annotations

from collections.abc import Callable
from time import time
from typing import Any

from redirect import pages
from redirect.catalog import CachedLink
from redirect.hit import Hit
from redirect.links import LinkCache
from redirect.plan import LinkPlan
from redirect.routing import Ask, Router, Trail
from redirect.sink import ClickSink
from tracker.domain.macros import Template
from tracker.domain.targeting import Visitor
from tracker.domain.weights import visitor_hash

_UNAVAILABLE = pages.page(404, pages.UNAVAILABLE)

# (hit, plan, flag, route, visitor hash) → (the 302's start message, outcome)
Redirect = Callable[[Hit, LinkPlan, str, int, int | None], tuple[dict[str, Any], str]]
RecordBlocked = Callable[[Hit, LinkPlan, str, int], None]


class SmartClicks:
    def __init__(self, links: LinkCache, router: Router, sink: ClickSink,
                 fallback: Template | None, visitor: Callable[[Hit], Visitor],
                 redirect: Redirect, record_blocked: RecordBlocked,
                 country_of: Callable[[Hit], None]) -> None:  # fmt: skip
        self.links, self.router, self.sink = links, router, sink
        self._fallback = fallback  # the instance's (TRACKER_FALLBACK_URL)
        self._visitor, self._redirect = visitor, redirect
        self._record_blocked, self._country_of = record_blocked, country_of

    async def _usable(self, link: CachedLink) -> bool:
        links = self.links
        return link.active and (
            links.affiliate_map.get(link.aff_id) or await links.load_affiliate(link.aff_id)
        )

    async def click(self, hit: Hit, link: CachedLink) -> tuple[dict[str, Any], Any, str, str]:
        """(start, body, outcome, class) of a click: the route that takes the visitor, or
        the link's fallback. A visitor no route takes because targeting refused it is
        recorded as a ``blocked`` click of the first refusing route (never paid)."""
        router, body = self.router, pages.EMPTY_BODY
        usable = await self._usable(link)
        sp = (router.cached(link, link) or await router.plan(link, link)) if usable else None
        trail, cls, entry = Trail(), "-", None
        if sp is not None:
            now = time()
            v = self._visitor(hit)
            vh = visitor_hash(hit.ip, hit.ua)
            got = router.choose_now(sp, hit, v, vh, now, trail)
            entry = (await router.choose(sp, hit, v, vh, now, True, trail)
                     if isinstance(got, Ask) else got)  # fmt: skip
            if entry is not None and entry.plan is not None:
                start, outcome = self._redirect(hit, entry.plan, trail.flag, entry.route.route_id,
                                                vh)  # fmt: skip
                cls = hit.cls
        if entry is None or entry.plan is None:
            judged = trail.blocked or trail.refused
            if judged is not None and judged[0].plan is not None:
                e, why = judged
                rule = why if trail.blocked else f"route#{e.route.route_id}:{why}"
                self._record_blocked(hit, e.plan, rule, e.route.route_id)  # type: ignore[arg-type]
                outcome, cls = ("blocked" if trail.blocked else "not_targeted"), "blocked"
            else:
                outcome = "fallback"
            (start, body) = self.fallback(hit, link)
            if start["status"] != 302 and outcome == "fallback":
                outcome = "unavailable"
        return start, body, outcome, cls

    def fallback(self, hit: Hit, link: CachedLink) -> tuple[Any, Any]:
        """A smart link's last resort: its fallback URL, else the instance's, else 404."""
        fallback = (link.smart.fallback if link.smart else None) or self._fallback
        if fallback is not None:
            self._country_of(hit)
            values = hit.fallback(0, link.aff_id, link.code)
            return pages.redirect(fallback.fill(values).encode("ascii"))
        return _UNAVAILABLE

    async def pixel(self, hit: Hit, link: CachedLink) -> str:
        """An impression counts for the route the visitor would take (its caps' last known
        state, no place reserved); none: nothing is recorded. Returns its class ('-')."""
        if not await self._usable(link):
            return "-"
        sp = await self.router.plan(link, link)
        if sp is None:
            return "-"
        vh = visitor_hash(hit.ip, hit.ua)
        trail = Trail()
        entry = await self.router.choose(sp, hit, self._visitor(hit), vh, time(), False, trail)
        if entry is None or entry.plan is None:
            return "-"
        plan = entry.plan
        event = hit.event("impression", plan.link_id, plan.code, plan.offer.offer_id,
                          plan.aff_id, plan.defaults)  # fmt: skip
        event["route"] = entry.route.route_id
        self.sink.add(event)
        return hit.cls
