"""Smart links on the redirect: which route takes a visitor (issue 20, docs/adr/0110).

A smart link's active routes are grouped by priority into tiers, each with the wheel of
its weights, once per (link, offers, rules) version: the plan. A click takes the first
tier that has a route for it; inside a tier the visitor's sticky number (tracker.domain
.weights) picks a route by weight, and when that route cannot take the visitor the same
number picks among the rest. A route cannot take a visitor when its offer is not running
(paused, archived, expired), its own or its offer's targeting refuses the visitor, or its
own or its offer's click cap is full (a paid click reserves its place, as on plain links:
redirect.caps); a route to another smart link takes the visitor when that link has a
route for it (chains of at most ``MAX_NESTING``). A traffic rule that blocks the click on
the chosen route's offer ends the search: the click is blocked, as on a plain link.
Nothing here raises for what a rule set says: at worst no route is found and the visitor
goes to the link's fallback.
"""

from __future__ import annotations

from collections.abc import Callable

from redirect.caps import ClickCaps
from redirect.catalog import CachedLink, CachedRoute, offer_state
from redirect.hit import Hit
from redirect.links import LinkCache
from redirect.plan import LinkPlan
from schemas.routing import MAX_NESTING
from tracker.domain.counted import is_paid
from tracker.domain.targeting import Visitor
from tracker.domain.traffic_rules import judge
from tracker.domain.weights import Wheel, pick_among, share

_MAX_PLANS = 100_000
_TAKEN, _REFUSED, _ASK = object(), object(), object()  # a route's verdict on a visitor


class Entry:
    """A route as a click meets it: with its offer's plan, or its smart link's code."""

    __slots__ = ("code", "plan", "route")

    def __init__(self, route: CachedRoute, plan: LinkPlan | None) -> None:
        self.route, self.plan, self.code = route, plan, route.target_code


class Tier:
    __slots__ = ("entries", "weights", "wheel")

    def __init__(self, entries: list[Entry]) -> None:
        self.entries = tuple(entries)
        self.weights = tuple(e.route.weight for e in entries)
        self.wheel = Wheel(self.weights)


class SmartPlan:
    __slots__ = ("host", "link", "offers_version", "rules_version", "tiers")

    def __init__(self, host: CachedLink, link: CachedLink, tiers: tuple[Tier, ...],
                 offers_version: int, rules_version: int) -> None:  # fmt: skip
        self.host, self.link, self.tiers = host, link, tiers
        self.offers_version, self.rules_version = offers_version, rules_version


class Trail:
    """What the search met: the route taken's flag, a blocking rule, the first refusal."""

    __slots__ = ("blocked", "flag", "refused")

    def __init__(self) -> None:
        self.flag = ""
        self.blocked: tuple[Entry, str] | None = None
        self.refused: tuple[Entry, str] | None = None

    def refuse(self, entry: Entry, why: str) -> None:
        if self.refused is None and entry.plan is not None:
            self.refused = (entry, why)


class Ask:
    """A route the walk met that must be awaited: a cap to reserve or read, or a nested
    smart link."""

    __slots__ = ("entry",)

    def __init__(self, entry: Entry) -> None:
        self.entry = entry


class Router:
    def __init__(self, links: LinkCache, caps: ClickCaps,
                 datacenter: Callable[[str], bool]) -> None:  # fmt: skip
        self.links, self.caps, self._datacenter = links, caps, datacenter
        self._plans: dict[tuple[str, str], SmartPlan] = {}

    def cached(self, host: CachedLink, link: CachedLink) -> SmartPlan | None:
        """The plan of ``link`` if it is made and still current (no coroutine: the common
        case of a click)."""
        links = self.links
        sp = self._plans.get((host.code, link.code))
        if (sp is not None and sp.link is link and sp.host is host
                and sp.offers_version == links.offers_version
                and sp.rules_version == links.rules_version):  # fmt: skip
            return sp
        return None

    async def plan(self, host: CachedLink, link: CachedLink) -> SmartPlan | None:
        """The plan of smart link ``link`` reached through ``host`` (itself, or the smart
        link whose route leads to it: clicks are the host's)."""
        sp = self.cached(host, link)
        if sp is not None:
            return sp
        links = self.links
        key = (host.code, link.code)
        spec = link.smart
        if spec is None:
            return None
        versions = (links.offers_version, links.rules_version)
        tiers: list[Tier] = []
        entries: list[Entry] = []
        priority = None
        for route in spec.routes:
            plan = None
            if route.offer_id is not None:
                offer = links.offer_map.get(route.offer_id) or await links.load_offer(
                    route.offer_id
                )
                if offer is None:
                    continue
                rules = links.rule_sets(offer.offer_id, host.aff_id)
                plan = LinkPlan(offer, host.aff_id, host, rules, links.rules_version)
            if priority is not None and route.priority != priority and entries:
                tiers.append(Tier(entries))
                entries = []
            priority = route.priority
            entries.append(Entry(route, plan))
        if entries:
            tiers.append(Tier(entries))
        if len(self._plans) >= _MAX_PLANS:
            self._plans.clear()
        # the versions as they were when the plan was begun: a change meanwhile remakes it
        sp = self._plans[key] = SmartPlan(host, link, tuple(tiers), *versions)
        return sp

    def choose_now(self, sp: SmartPlan, hit: Hit, v: Visitor, vh: int, now: float,
                   trail: Trail) -> Entry | Ask | None:  # fmt: skip
        """``choose`` without a coroutine, for the common case where no route on the way
        has a cap to reserve or leads to another smart link; else an ``Ask``: call
        ``choose``."""
        return self._walk(sp, hit, v, self._share(sp, vh, now), now, trail, None)

    async def choose(self, sp: SmartPlan, hit: Hit, v: Visitor, vh: int, now: float,
                     reserve: bool, trail: Trail, depth: int = 1) -> Entry | None:  # fmt: skip
        """The offer route that takes this visitor, or None (``trail`` says why).
        ``reserve``: a paid click takes its place under capped routes (clicks); else the
        caps' last known state decides (impressions). The routes are walked without
        awaiting; at a route that must be asked (a cap, a nested link) the answer is
        awaited once and the walk is made again with it."""
        u = self._share(sp, vh, now)
        asked: dict[Entry, Entry | None] = {}
        while True:
            got = self._walk(sp, hit, v, u, now, trail, asked)
            if not isinstance(got, Ask):
                return got
            e = got.entry
            asked[e] = await self._ask(e, sp, hit, v, vh, now, reserve, trail, depth)

    @staticmethod
    def _share(sp: SmartPlan, vh: int, now: float) -> float:
        spec = sp.link.smart
        assert spec is not None
        return share(vh, sp.link.link_id, spec.sticky_s, now)

    def _walk(self, sp: SmartPlan, hit: Hit, v: Visitor, u: float, now: float, trail: Trail,
              asked: dict[Entry, Entry | None] | None) -> Entry | Ask | None:  # fmt: skip
        """Tiers in order; in a tier the visitor's number ``u`` picks by weight, and when
        that route cannot take the visitor the same number picks among the rest."""
        for tier in sp.tiers:
            entries = tier.entries
            i = tier.wheel.pick(u)
            e = entries[i]
            rest: list[Entry] | None = None
            while True:
                verdict = self._judge(e, hit, v, now, trail)
                if verdict is _ASK:
                    if asked is None or e not in asked:
                        return Ask(e)
                    got = asked[e]
                else:
                    got = e if verdict is _TAKEN else None
                if got is not None or trail.blocked is not None:
                    return got
                if rest is None:
                    if len(entries) == 1:
                        break
                    rest = [x for j, x in enumerate(entries) if j != i]
                else:
                    rest.remove(e)
                if len(rest) > 1:
                    e = rest[pick_among(u, [x.route.weight for x in rest])]
                elif rest:
                    e = rest[0]
                else:
                    break
        return None

    def _judge(self, e: Entry, hit: Hit, v: Visitor, now: float, trail: Trail) -> object:
        """_TAKEN, _REFUSED, or _ASK (a nested link, or a cap to reserve or read)."""
        route, plan = e.route, e.plan
        if plan is not None:  # not running wins over not targeted (nothing is recorded)
            offer = plan.offer
            if not offer.plain and offer_state(offer, now) != "running":
                return _REFUSED
        if route.targeting is not None and (why := route.targeting.refuses(v, now)):
            trail.refuse(e, why)
            return _REFUSED
        if plan is None:  # a route to another smart link
            return _ASK
        if offer.targeting is not None and (why := offer.targeting.refuses(v, now)):
            trail.refuse(e, why)
            return _REFUSED
        if plan.rules:
            blocked, rule = judge(plan.rules, hit.ip, hit.subs, hit.source, hit.ua,
                                  self._datacenter)  # fmt: skip
            if blocked:
                trail.blocked = (e, rule)
                return _REFUSED
            trail.flag = rule
        return _ASK if route.capped or offer.capped else _TAKEN

    async def _ask(self, e: Entry, sp: SmartPlan, hit: Hit, v: Visitor, vh: int, now: float,
                   reserve: bool, trail: Trail, depth: int) -> Entry | None:  # fmt: skip
        if e.plan is None:
            return await self._nested(e, sp, hit, v, vh, now, reserve, trail, depth)
        return e if await self._room(e, hit, reserve) else None

    async def _nested(self, e: Entry, sp: SmartPlan, hit: Hit, v: Visitor, vh: int,
                      now: float, reserve: bool, trail: Trail, depth: int) -> Entry | None:  # fmt: skip
        if depth >= MAX_NESTING or e.code is None:
            return None
        links = self.links
        child = links.link_map.get(e.code) or await links.load(e.code)
        if child is None or not child.active or child.smart is None:
            return None
        csp = await self.plan(sp.host, child)
        if csp is None:
            return None
        return await self.choose(csp, hit, v, vh, now, reserve, trail, depth + 1)

    async def _room(self, e: Entry, hit: Hit, reserve: bool) -> bool:
        """Whether the route and its offer have room: a paid click of a click reserves it."""
        route, plan = e.route, e.plan
        assert plan is not None
        offer, caps = plan.offer, self.caps
        if not reserve or not is_paid(hit.cls):
            return not (caps.route_full(route.route_id) or caps.full(offer.offer_id))
        if route.capped:
            offer_caps = (offer.daily_cap, offer.total_cap)
            return await caps.reserve_route(offer.offer_id, offer_caps, route.route_id,
                                            (route.daily_cap, route.total_cap))  # fmt: skip
        return await caps.reserve(offer.offer_id, offer.daily_cap, offer.total_cap)
