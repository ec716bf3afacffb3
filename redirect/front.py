"""A raw ASGI route for the click path, in front of the FastAPI app.

FastAPI's routing, dependency solving and validation cost more than the
whole redirect; ``/c/{code}``, ``/click?offer_id=…&aff_id=…`` and the
impression pixel ``/i/{code}`` are answered here from in-process state, and
everything else is passed to the API app unchanged. No network call is
awaited except on a cache miss (the first visitor of a new link) and, for
offers with a click cap only, the cap's reservation of a paid click
(redirect.caps). Links with traffic rules have their clicks judged
(tracker.domain.traffic_rules); the others pay nothing for it.
"""

from __future__ import annotations

import logging
import re
from bisect import bisect_left
from time import perf_counter, time
from typing import Any

from redirect import pages
from redirect.caps import ClickCaps
from redirect.catalog import CachedOffer, offer_state
from redirect.deeplink import check_deep_link
from redirect.hit import Hit, append_params
from redirect.hosts import HostGate
from redirect.links import LinkCache
from redirect.plan import LinkPlan
from redirect.sink import ClickSink
from schemas.types import MAX_ID
from tracker import metrics
from tracker.domain import classify
from tracker.domain.client_ip import ClientAddress
from tracker.domain.counted import is_paid
from tracker.domain.macros import Template, compile_template
from tracker.domain.traffic_rules import NOT_RUNNING_OFFER, judge
from tracker.geoip import Asn, Geo
from tracker.settings import Settings

log = logging.getLogger("tracker.redirect")

Scope = dict[str, Any]
ASGIApp = Any
_NOT_FOUND = pages.page(404, pages.NOT_FOUND)
_UNAVAILABLE = pages.page(404, pages.UNAVAILABLE)
_GONE = pages.page(410, pages.GONE)
# What a link code can be (LinkIn's pattern; generated codes are a subset): anything else
# (NUL, controls, slashes, non-ASCII) is not found without asking Postgres.
_CODE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_MAX_PLANS = 100_000
# Per-request metrics are plain ints and a list of bucket counts, published on scrape
# (tracker.metrics.LoopCounter/LoopHistogram): no prometheus-client call per click.
_REDIRECTS = metrics.REDIRECTS.counts
_SECONDS = metrics.REDIRECT_SECONDS


def _observe(outcome: str, cls: str, t0: float) -> None:
    key = (outcome, cls)
    _REDIRECTS[key] = _REDIRECTS.get(key, 0) + 1
    dt = perf_counter() - t0
    _SECONDS.counts[bisect_left(_SECONDS.bounds, dt)] += 1
    _SECONDS.sum += dt


_ID = re.compile(r"[1-9][0-9]{0,18}")


def _id(text: str) -> int | None:
    """A row id of the /click form (1 … 2^63-1, plain digits), or None."""
    if not _ID.fullmatch(text):
        return None
    value = int(text)
    return value if value <= MAX_ID else None


class RedirectFront:
    def __init__(self, api: ASGIApp, links: LinkCache, sink: ClickSink, hosts: HostGate | None,
                 caps: ClickCaps, settings: Settings) -> None:  # fmt: skip
        self.api = api
        self.links = links
        self.sink = sink
        self.hosts = hosts or HostGate(1.0)  # never started: answers every Host
        self.caps = caps
        s = settings
        self._fallback: Template | None = (
            compile_template(s.fallback_url) if s.fallback_url else None
        )
        self._cookie = s.click_cookie.encode() + b"="
        self._country: bytes | None = (
            s.country_header.lower().encode() if s.country_header else None
        )
        self._addresses = ClientAddress(s.trusted_proxies)
        # {country} without a country header, and datacenter rules: the MaxMind readers.
        self._geo = Geo(s.geoip_db) if s.geoip_db and not s.country_header else None
        self._asn = Asn(s.asn_db, frozenset(s.datacenter_asns))
        # One plan per link code (or (offer, partner) for the /click form), rebuilt when
        # the cached link or offer object or the traffic rules change.
        self._plans: dict[object, LinkPlan] = {}
        classify.warm()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        # Tracking domains (docs/adr/0096): one set lookup, none while none is registered.
        if self.hosts.allowed and scope["type"] == "http" and self.hosts.refuses(scope):
            await self.hosts.refuse(send)
            return
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            path = scope["path"]
            if path.startswith("/c/"):
                await self.click(scope, send, path[3:])
                return
            if path == "/click":
                await self.click(scope, send, None)
                return
            if path.startswith("/i/"):
                await self.impression(scope, send, path[3:])
                return
        await self.api(scope, receive, send)

    def _plan(self, key: object, offer: CachedOffer, aff_id: int, link: Any) -> LinkPlan:
        plan = self._plans.get(key)
        version = self.links.rules_version
        if (plan is None or plan.offer is not offer or plan.link is not link
                or plan.rules_version != version):  # fmt: skip
            if len(self._plans) >= _MAX_PLANS:
                self._plans.clear()
            rules = self.links.rule_sets(offer.offer_id, aff_id)
            plan = self._plans[key] = LinkPlan(offer, aff_id, link, rules, version)
        return plan

    async def _target(self, code: str | None, hit: Hit) -> tuple[LinkPlan | None, bool]:
        """(plan, usable) of a hit, reading Postgres for what is not cached yet."""
        links = self.links
        if code is not None:
            link = links.get(code)
            if link is None:
                if not _CODE.fullmatch(code):
                    return None, False
                link = await links.load(code)
                if link is None:
                    return None, False
            offer = links.offer(link.offer_id) or await links.load_offer(link.offer_id)
            if offer is None:
                return None, False
            aff = link.aff_id
            usable = link.active and (
                links.affiliate_active(aff) or await links.load_affiliate(aff)
            )
            return self._plan(code, offer, aff, link), usable
        offer_id = _id(hit.query.get("offer_id", ""))
        aff_id = _id(hit.query.get("aff_id") or hit.query.get("affiliate_id", ""))
        if offer_id is None or aff_id is None:
            return None, False
        offer = links.offer(offer_id) or await links.load_offer(offer_id)
        if offer is None:
            return None, False
        if not (links.affiliate_active(aff_id) or await links.load_affiliate(aff_id)):
            return None, False
        return self._plan((offer_id, aff_id), offer, aff_id, None), True

    async def click(self, scope: Scope, send: Any, code: str | None) -> None:
        t0 = perf_counter()
        hit = Hit(scope, self._country, self._addresses)
        plan = None
        if code is not None:  # the common case, without a coroutine: all of it cached
            links = self.links
            link = links.link_map.get(code)
            if link is not None and link.active:
                offer = links.offer_map.get(link.offer_id)
                if offer is not None and links.affiliate_map.get(link.aff_id):
                    plan = self._plans.get(code)
                    if (plan is None or plan.offer is not offer or plan.link is not link
                            or plan.rules_version != links.rules_version):  # fmt: skip
                        plan = self._plan(code, offer, link.aff_id, link)
        usable = True
        if plan is None:  # not all in the cache (or the /click form): may read Postgres
            plan, usable = await self._target(code, hit)
        if plan is None:
            (start, body), outcome, cls = _NOT_FOUND, "not_found", "-"
        else:
            offer = plan.offer
            blocked, rule = False, ""
            if plan.rules or code is None:  # traffic rules, or the /click form: judge it
                blocked, rule = await self._judge(hit, plan, code)
            if offer.plain:  # active, no expiry, no cap: nothing to decide
                state = "running"
            else:
                state = offer_state(offer, time())
                if state == "running" and offer.capped and usable and not blocked:
                    state = await self._cap(hit, offer)
            if state == "running" and usable and blocked:
                (start, body), outcome, cls = self._blocked(hit, plan, rule), "blocked", "blocked"
            elif state == "running" and usable:
                start, outcome = self._redirect(scope, hit, plan, rule)
                body, cls = pages.EMPTY_BODY, hit.cls
            else:
                (start, body), outcome = self._not_running(hit, plan, state), "fallback"
                cls = "-"
                if start["status"] != 302:
                    outcome = "gone" if start["status"] == 410 else "unavailable"
        await send(start)
        await send(body)
        _observe(outcome, cls, t0)

    async def _judge(self, hit: Hit, plan: LinkPlan, code: str | None) -> tuple[bool, str]:
        """(blocked, rule) of a click on a link with traffic rules, or of the /click form
        (which pays only a partner who runs the offer: an active link on it)."""
        if code is None and not await self.links.runs_offer(plan.offer.offer_id, plan.aff_id):
            return True, NOT_RUNNING_OFFER
        if not plan.rules:
            return False, ""
        if plan.defaults:
            hit.fill_defaults(plan.defaults)
        return judge(plan.rules, hit.ip, hit.subs, hit.source, hit.ua, self._datacenter)

    def _datacenter(self, ip: str) -> bool:
        return self._asn.lookup(ip).datacenter

    async def _cap(self, hit: Hit, offer: CachedOffer) -> str:
        """A capped offer: a paid click reserves its place (or finds the cap full); other
        classes take none and follow the offer's last known state."""
        if is_paid(hit.cls):
            ok = await self.caps.reserve(offer.offer_id, offer.daily_cap, offer.total_cap)
            return "running" if ok else "capped"
        return "capped" if self.caps.full(offer.offer_id) else "running"

    def _place(self, hit: Hit) -> None:
        """``{country}`` from the GeoIP database when no proxy header gave it."""
        if self._geo is not None and not hit.country and hit.ip:
            hit.country = self._geo.lookup(hit.ip).country

    def _blocked(self, hit: Hit, plan: LinkPlan, rule: str) -> tuple[Any, Any]:
        """A blocked click: recorded as ``blocked`` with its rule (never paid), sent to the
        fallback (a HEAD stays ``head``: it is no click either way)."""
        offer = plan.offer
        event = hit.event("click", plan.link_id, plan.code, offer.offer_id, plan.aff_id,
                          plan.defaults, rule)  # fmt: skip
        if hit.cls != "head":
            event["cls"] = "blocked"
        self.sink.add(event)
        return self._not_running(hit, plan, "blocked")

    def _redirect(self, scope: Scope, hit: Hit, plan: LinkPlan,
                  rule: str) -> tuple[dict[str, Any], str]:  # fmt: skip
        offer = plan.offer
        event = hit.event("click", plan.link_id, plan.code, offer.offer_id, plan.aff_id,
                          plan.defaults, rule)  # fmt: skip
        click_id: str = event["click_id"]
        head = hit.cls == "head"
        self.sink.add(event)
        if plan.needs_country:
            self._place(hit)
        location, outcome = None, "redirect"
        if hit.deep_url and offer.deep_domains:
            location = check_deep_link(hit.deep_url, offer.deep_domains)
            outcome = "deep_link" if location else "redirect"
        if location is None:
            location = plan.fill(hit, click_id, event["ts"])
            if offer.pass_params and hit.params:
                location = append_params(location, hit.params)
        # Every value is percent-encoded by the plan or the deep-link check: ASCII only.
        headers = [(b"location", location.encode("ascii")), pages.NO_CONTENT]
        if plan.cookie_tail is not None and not head:
            cookie = self._cookie + click_id.encode("ascii") + plan.cookie_tail
            headers.append((b"set-cookie", cookie))
        return {"type": "http.response.start", "status": 302, "headers": headers}, outcome

    def _not_running(self, hit: Hit, plan: LinkPlan, state: str) -> tuple[Any, Any]:
        fallback = plan.offer.fallback or self._fallback
        if fallback is not None:
            self._place(hit)
            values = hit.fallback(plan.offer.offer_id, plan.aff_id, plan.code)
            return pages.redirect(fallback.fill(values).encode("ascii"))
        return _GONE if state in ("expired", "archived") else _UNAVAILABLE

    async def impression(self, scope: Scope, send: Any, code: str) -> None:
        """1x1 GIF; a GET of a known link's pixel records a ``kind=impression`` event."""
        t0 = perf_counter()
        outcome, cls = "pixel", "-"
        if scope["method"] == "GET":
            hit = Hit(scope, self._country, self._addresses)
            plan, usable = await self._target(code, hit)
            if plan is not None and usable:
                event = hit.event("impression", plan.link_id, plan.code, plan.offer.offer_id,
                                  plan.aff_id, plan.defaults)  # fmt: skip
                self.sink.add(event)
                cls = hit.cls
            elif plan is None:
                outcome = "not_found"
        start, body = pages.pixel()
        await send(start)
        await send(body)
        _observe(outcome, cls, t0)
