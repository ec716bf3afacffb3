"""A raw ASGI route for the click path, in front of the FastAPI app.

FastAPI's routing, dependency solving and validation cost more than the
whole redirect; ``/c/{code}`` is answered here from in-process state and
everything else is passed to the API app unchanged.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import parse_qsl

from redirect.links import CachedLink, LinkCache
from redirect.sink import ClickSink
from tracker import metrics
from tracker.domain.classify import classify
from tracker.domain.ids import uuid7, uuid7_time_ms

log = logging.getLogger("tracker.redirect")

Scope = dict[str, Any]
ASGIApp = Any

_NOT_FOUND = (
    b"<!doctype html><html><head><meta charset=utf-8><title>Link not found</title></head>"
    b"<body><h1>Link not found</h1><p>This tracking link does not exist.</p></body></html>"
)
_GONE = (
    b"<!doctype html><html><head><meta charset=utf-8><title>Offer unavailable</title></head>"
    b"<body><h1>Offer unavailable</h1><p>This offer is not running right now.</p></body></html>"
)
_NO_STORE = (b"cache-control", b"no-store, max-age=0")
_MAX_VALUE = 255  # sub-ids and other values are cropped, never an error for the visitor


def _page(status: int, body: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    start = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            _NO_STORE,
        ],
    }
    return start, {"type": "http.response.body", "body": body}


class RedirectFront:
    def __init__(self, api: ASGIApp, links: LinkCache, sink: ClickSink) -> None:
        self.api = api
        self.links = links
        self.sink = sink

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/c/"):
            method = scope["method"]
            if method in ("GET", "HEAD"):
                await self.click(scope, send, method)
                return
        await self.api(scope, receive, send)

    async def click(self, scope: Scope, send: Any, method: str) -> None:
        t0 = time.perf_counter()
        code = scope["path"][3:]
        link = self.links.get(code)
        if link is None:
            link = await self.links.load(code) if 0 < len(code) <= 64 else None
        if link is None:
            start, body = _page(404, _NOT_FOUND)
            outcome, cls = "not_found", "-"
        elif not link.active:
            start, body = _page(410, _GONE)
            outcome, cls = "inactive", "-"
        else:
            location, cls = self._record(scope, method, link)
            start = {
                "type": "http.response.start",
                "status": 302,
                "headers": [(b"location", location), (b"content-length", b"0"), _NO_STORE],
            }
            body = {"type": "http.response.body", "body": b""}
            outcome = "redirect"
        await send(start)
        await send(body)
        metrics.REDIRECTS.labels(outcome, cls).inc()
        metrics.REDIRECT_SECONDS.observe(time.perf_counter() - t0)

    def _record(self, scope: Scope, method: str, link: CachedLink) -> tuple[bytes, str]:
        ua = referer = purpose = ""
        for name, value in scope["headers"]:
            if name == b"user-agent":
                ua = value.decode("latin-1")[:1024]
            elif name == b"referer":
                referer = value.decode("latin-1")[:1024]
            elif name in (b"purpose", b"sec-purpose"):
                purpose = value.decode("latin-1")[:64]
        query = dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=False))
        subs = [(query.get(f"sub{i}") or link.subs[i - 1] or None) for i in range(1, 6)]
        subs = [s[:_MAX_VALUE] if s else None for s in subs]
        cls = classify(method, ua, purpose)
        click_id = uuid7()
        cid = str(click_id)
        client = scope.get("client")
        self.sink.add(
            {
                "click_id": cid,
                "ts": uuid7_time_ms(click_id) / 1000,
                "link_id": link.link_id,
                "link_code": link.code,
                "offer_id": link.offer_id,
                "aff_id": link.aff_id,
                "subs": subs,
                "ip": client[0] if client else "",
                "ua": ua,
                "referer": referer,
                "cls": cls,
            }
        )
        values = {
            "click_id": cid,
            "aff_id": str(link.aff_id),
            "offer_id": str(link.offer_id),
            "link_code": link.code,
            "sub1": subs[0],
            "sub2": subs[1],
            "sub3": subs[2],
            "sub4": subs[3],
            "sub5": subs[4],
        }
        # Every value is percent-encoded by the template: the header is ASCII.
        return link.template.fill(values).encode("ascii"), cls
