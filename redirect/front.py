"""A raw ASGI route for the click path, in front of the FastAPI app.

FastAPI's routing, dependency solving and validation cost more than the
whole redirect; ``/c/{code}``, ``/click?offer_id=…&aff_id=…`` and the
impression pixel ``/i/{code}`` are answered here from in-process state, and
everything else is passed to the API app unchanged. No network call is
awaited except on a cache miss (the first visitor of a new link).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from redirect import pages
from redirect.catalog import CachedOffer, offer_state
from redirect.deeplink import check_deep_link
from redirect.hit import Hit, append_params
from redirect.links import LinkCache
from redirect.sink import ClickSink
from tracker import metrics
from tracker.domain.macros import Template, compile_template

log = logging.getLogger("tracker.redirect")

Scope = dict[str, Any]
ASGIApp = Any
_NOT_FOUND = pages.page(404, pages.NOT_FOUND)
_UNAVAILABLE = pages.page(404, pages.UNAVAILABLE)
_GONE = pages.page(410, pages.GONE)
_MAX_CODE = 64
_COUNTERS: dict[tuple[str, str], Any] = {}  # labelled children, looked up once


def _observe(outcome: str, cls: str, t0: float) -> None:
    counter = _COUNTERS.get((outcome, cls))
    if counter is None:
        counter = _COUNTERS[(outcome, cls)] = metrics.REDIRECTS.labels(outcome, cls)
    counter.inc()
    metrics.REDIRECT_SECONDS.observe(time.perf_counter() - t0)


class _Target:
    """Who a hit is for: link (or none, for the /click form), offer, partner."""

    __slots__ = ("aff_id", "code", "defaults", "link_id", "offer", "usable")

    def __init__(self, offer: CachedOffer, aff_id: int, usable: bool, link_id: int | None = None,
                 code: str = "", defaults: tuple[str | None, ...] = ()) -> None:  # fmt: skip
        self.offer, self.aff_id, self.usable = offer, aff_id, usable
        self.link_id, self.code, self.defaults = link_id, code, defaults


class RedirectFront:
    def __init__(self, api: ASGIApp, links: LinkCache, sink: ClickSink) -> None:
        self.api = api
        self.links = links
        self.sink = sink
        links.flushed = sink.flushed  # click caps count what the sink has not written yet
        self._ready = False
        self._fallback: Template | None = None
        self._cookie = b"trk_cid"
        self._country: bytes | None = None
        # Landing templates with the link's constants (aff_id, offer_id, link_code) bound,
        # rebuilt when the cached offer object changes.
        self._bound: dict[tuple[int, int, str], tuple[CachedOffer, Template]] = {}

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
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
        self._cookie = s.click_cookie.encode()
        self._country = s.country_header.lower().encode() if s.country_header else None
        self._ready = True

    def _cached(self, code: str) -> _Target | None:
        """The common case, without a coroutine: link, offer and partner all cached."""
        links = self.links
        link = links.get(code)
        if link is None:
            return None
        offer = links.offer(link.offer_id)
        if offer is None or not links.affiliate_active(link.aff_id):
            return None
        return _Target(offer, link.aff_id, link.active, link.link_id, link.code, link.subs)

    async def _target(self, code: str | None, hit: Hit) -> _Target | None:
        links = self.links
        if code is not None:
            link = links.get(code)
            if link is None:
                if not 0 < len(code) <= _MAX_CODE:
                    return None
                link = await links.load(code)
                if link is None:
                    return None
            offer = links.offer(link.offer_id) or await links.load_offer(link.offer_id)
            if offer is None:
                return None
            aff = link.aff_id
            usable = link.active and (
                links.affiliate_active(aff) or await links.load_affiliate(aff)
            )
            return _Target(offer, link.aff_id, usable, link.link_id, link.code, link.subs)
        try:
            offer_id = int(hit.query.get("offer_id", ""))
            aff_id = int(hit.query.get("aff_id") or hit.query.get("affiliate_id", ""))
        except ValueError:
            return None
        offer = links.offer(offer_id) or await links.load_offer(offer_id)
        if offer is None:
            return None
        known = links.affiliate_active(aff_id) or await links.load_affiliate(aff_id)
        return _Target(offer, aff_id, known) if known else None

    async def click(self, scope: Scope, send: Any, code: str | None) -> None:
        t0 = time.perf_counter()
        if not self._ready:
            self._configure()
        hit = Hit(scope, self._country)
        target = self._cached(code) if code is not None else None
        if target is None:  # not all in the cache (or the /click form): may read Postgres
            target = await self._target(code, hit)
        if target is None:
            (start, body), outcome, cls = _NOT_FOUND, "not_found", "-"
        else:
            offer = target.offer
            if offer.plain:  # active, no expiry, no cap: nothing to decide
                state = "running"
            else:
                state = offer_state(offer, time.time(), self.links.over_cap(offer))
            if state == "running" and target.usable:
                (start, body), outcome = self._redirect(scope, hit, target)
                cls = hit.cls
            else:
                (start, body), outcome = self._not_running(hit, target, state), "fallback"
                cls = "-"
                if start["status"] != 302:
                    outcome = "gone" if start["status"] == 410 else "unavailable"
        await send(start)
        await send(body)
        _observe(outcome, cls, t0)

    def _redirect(self, scope: Scope, hit: Hit, t: _Target) -> tuple[tuple[Any, Any], str]:
        offer = t.offer
        event = hit.event("click", t.link_id, t.code, offer.offer_id, t.aff_id, t.defaults,
                          scope.get("client"))  # fmt: skip
        self.sink.add(event)
        location, outcome = None, "redirect"
        if hit.deep_url and offer.deep_domains:
            location = check_deep_link(hit.deep_url, offer.deep_domains)
            outcome = "deep_link" if location else "redirect"
        if location is None:
            key = (offer.offer_id, t.aff_id, t.code)
            bound = self._bound.get(key)
            if bound is None or bound[0] is not offer:
                if len(self._bound) > 100_000:
                    self._bound.clear()
                constants = {"aff_id": str(t.aff_id), "offer_id": str(offer.offer_id),
                             "link_code": t.code}  # fmt: skip
                bound = self._bound[key] = (offer, offer.template.bind(constants))
            location = bound[1].fill(hit)
            if offer.pass_params and hit.params:
                location = append_params(location, hit.params)
        cookie = None
        if offer.cookie_max_age is not None and hit.cls != "head":
            cookie = b"%b=%b; Max-Age=%d; Path=/; Secure; HttpOnly; SameSite=None" % (
                self._cookie, event["click_id"].encode(), offer.cookie_max_age,
            )  # fmt: skip
        # Every value is percent-encoded by the template or the deep-link check: ASCII only.
        return pages.redirect(location.encode("ascii"), cookie), outcome

    def _not_running(self, hit: Hit, t: _Target, state: str) -> tuple[Any, Any]:
        fallback = t.offer.fallback or self._fallback
        if fallback is not None:
            values = hit.fallback(t.offer.offer_id, t.aff_id, t.code)
            return pages.redirect(fallback.fill(values).encode("ascii"))
        return _GONE if state in ("expired", "archived") else _UNAVAILABLE

    async def impression(self, scope: Scope, send: Any, code: str) -> None:
        """1x1 GIF; a GET of a known link's pixel records a ``kind=impression`` event."""
        t0 = time.perf_counter()
        if not self._ready:
            self._configure()
        outcome, cls = "pixel", "-"
        if scope["method"] == "GET":
            hit = Hit(scope, self._country)
            target = await self._target(code, hit)
            if target is not None and target.usable:
                offer = target.offer
                event = hit.event("impression", target.link_id, target.code, offer.offer_id,
                                  target.aff_id, target.defaults, scope.get("client"))  # fmt: skip
                self.sink.add(event)
                cls = hit.cls
            elif target is None:
                outcome = "not_found"
        start, body = pages.pixel()
        await send(start)
        await send(body)
        _observe(outcome, cls, t0)
