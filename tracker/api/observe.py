"""ASGI middleware of the API (not the redirect): a request id and the request's time.

Each request gets an id, the caller's ``X-Request-ID`` when it is a plain token of at
most 128 characters, else a new one; it is bound to every log line the request causes
(tracker/logs.py) and returned in the ``X-Request-ID`` header. The time from the
request to the end of the response is observed on ``tracker_api_request_seconds`` by
route template (``/api/v1/offers/{offer_id}``; ``unmatched`` when no route matched, so
a scan of random paths adds no series), method and status class.
"""

from __future__ import annotations

import re
import uuid
from time import perf_counter
from typing import Any

from tracker import metrics
from tracker.logs import bind

_TOKEN = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _request_id(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name == b"x-request-id" and _TOKEN.match(value):
            return value.decode("ascii")
    return uuid.uuid4().hex


class Observe:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _request_id(scope["headers"])
        header = (b"x-request-id", rid.encode("ascii"))
        status = 500  # what the client gets when the app fails before answering

        async def observed_send(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        t0 = perf_counter()
        try:
            with bind(request_id=rid):
                await self.app(scope, receive, observed_send)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"] if scope["method"] in _METHODS else "other"
            metrics.API_SECONDS.labels(route, method, f"{status // 100}xx").observe(
                perf_counter() - t0
            )
