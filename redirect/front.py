"""A raw ASGI route for the click path, in front of the FastAPI app.

FastAPI's routing, dependency solving and validation cost more than the
whole redirect; ``/c/{code}``, ``/click?offer_id=…&aff_id=…`` and the
impression pixel ``/i/{code}`` are answered here from in-process state, and
everything else is passed to the API app unchanged. No network call is
awaited except on a cache miss (the first visitor of a new link).
"""

from __future__ import annotations

import logging
import re
from bisect import bisect_left
from time import perf_counter, time
from typing import Any

from redirect import pages
from redirect.catalog import CachedOffer, offer_state
from redirect.deeplink import check_deep_link
from redirect.hit import Hit, append_params
from redirect.hosts import HostGate
from redirect.links import LinkCache
from redirect.plan import LinkPlan
from redirect.sink import ClickSink
from schemas.types import MAX_ID
from tracker import metrics
from tracker.domain.macros import Template, compile_template

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
    def __init__(self, api: ASGIApp, links: LinkCache, sink: ClickSink,
                 hosts: HostGate | None = None) -> None:  # fmt: skip
        self.api = api
        self.links = links
        self.sink = sink
        self.hosts = hosts or HostGate(1.0)  # never started: answers every Host
        links.flushed = sink.flushed  # click caps count what the sink has not written yet
        self._ready = False
        self._fallback: Template | None = None
        self._cookie = b"trk_cid="
        self._country: bytes | None = None
        # One plan per link code (or (offer, partner) for the /click form), rebuilt when
        # the cached link or offer object changes.
        self._plans: dict[object, LinkPlan] = {}

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

    def _configure(self) -> None:
        s = self.links.settings
        self._fallback = compile_template(s.fallback_url) if s.fallback_url else None
        self._cookie = s.click_cookie.encode() + b"="
        self._country = s.country_header.lower().encode() if s.country_header else None
        self._ready = True

    def _plan(self, key: object, offer: CachedOffer, aff_id: int, link: Any) -> LinkPlan:
        plan = self._plans.get(key)
        if plan is None or plan.offer is not offer or plan.link is not link:
            if len(self._plans) >= _MAX_PLANS:
                self._plans.clear()
            plan = self._plans[key] = LinkPlan(offer, aff_id, link)
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
        if not self._ready:
            self._configure()
        hit = Hit(scope, self._country)
        plan = None
        if code is not None:  # the common case, without a coroutine: all of it cached
            links = self.links
            link = links.link_map.get(code)
            if link is not None and link.active:
                offer = links.offer_map.get(link.offer_id)
                if offer is not None and links.affiliate_map.get(link.aff_id):
                    plan = self._plans.get(code)
                    if plan is None or plan.offer is not offer or plan.link is not link:
                        plan = self._plan(code, offer, link.aff_id, link)
        usable = True
        if plan is None:  # not all in the cache (or the /click form): may read Postgres
            plan, usable = await self._target(code, hit)
        if plan is None:
            (start, body), outcome, cls = _NOT_FOUND, "not_found", "-"
        else:
            offer = plan.offer
            if offer.plain:  # active, no expiry, no cap: nothing to decide
                state = "running"
            else:
                state = offer_state(offer, time(), self.links.over_cap(offer))
            if state == "running" and usable:
                start, outcome = self._redirect(scope, hit, plan)
                body, cls = pages.EMPTY_BODY, hit.cls
            else:
                (start, body), outcome = self._not_running(hit, plan, state), "fallback"
                cls = "-"
                if start["status"] != 302:
                    outcome = "gone" if start["status"] == 410 else "unavailable"
        await send(start)
        await send(body)
        _observe(outcome, cls, t0)

    def _redirect(self, scope: Scope, hit: Hit, plan: LinkPlan) -> tuple[dict[str, Any], str]:
        offer = plan.offer
        event = hit.event("click", plan.link_id, plan.code, offer.offer_id, plan.aff_id,
                          plan.defaults, scope.get("client"))  # fmt: skip
        click_id: str = event["click_id"]
        head = hit.cls == "head"
        self.sink.add(event, not head)
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
            values = hit.fallback(plan.offer.offer_id, plan.aff_id, plan.code)
            return pages.redirect(fallback.fill(values).encode("ascii"))
        return _GONE if state in ("expired", "archived") else _UNAVAILABLE

    async def impression(self, scope: Scope, send: Any, code: str) -> None:
        """1x1 GIF; a GET of a known link's pixel records a ``kind=impression`` event."""
        t0 = perf_counter()
        if not self._ready:
            self._configure()
        outcome, cls = "pixel", "-"
        if scope["method"] == "GET":
            hit = Hit(scope, self._country)
            plan, usable = await self._target(code, hit)
            if plan is not None and usable:
                event = hit.event("impression", plan.link_id, plan.code, plan.offer.offer_id,
                                  plan.aff_id, plan.defaults, scope.get("client"))  # fmt: skip
                self.sink.add(event, False)
                cls = hit.cls
            elif plan is None:
                outcome = "not_found"
        start, body = pages.pixel()
        await send(start)
        await send(body)
        _observe(outcome, cls, t0)
