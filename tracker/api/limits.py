"""Limits on what one caller may ask: request size, and requests per minute per key.

The rate is counted in Redis (a fixed one-minute window per key), so every
process shares one budget per key. If Redis cannot answer in time the
request is let through and counted on a metric: an API that depends on a
limiter being up would turn a Redis blip into an outage.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from tracker import metrics, redis_keys
from tracker.api.errors import ApiProblem
from tracker.api.json import dumps
from tracker.redis_client import away
from tracker.resources import Services
from tracker.store.keys import Principal

log = logging.getLogger("tracker.api")


async def check_rate(services: Services, principal: Principal) -> None:
    limit = principal.rate_limit_per_min or services.settings.api_rate_limit_per_min
    now = time.time()
    window = int(now // 60)
    key = redis_keys.of(services.settings).rate_limit(principal.key_id, window)
    try:
        async with services.redis.pipeline(transaction=False) as pipe:
            pipe.incr(key)
            pipe.expire(key, 120)
            count, _ = await pipe.execute()
    except Exception as exc:
        if not away(exc):
            raise
        metrics.RATE_LIMIT_UNCHECKED.inc()
        log.warning("rate limit not checked (Redis): %r", exc)
        return
    if int(count) > limit:
        retry_after = max(1, int((window + 1) * 60 - now) + 1)
        metrics.RATE_LIMITED.inc()
        raise ApiProblem(429, "rate_limited", f"more than {limit} requests a minute for this key",
                         headers={"Retry-After": str(retry_after)})  # fmt: skip


class BodySizeLimit:
    """ASGI middleware: 413 JSON for a body over ``max_bytes`` (declared or streamed)."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and (not value.isdigit() or int(value) > self.max_bytes):
                await self._too_large(send)
                return
        seen = 0
        started = False

        async def limited_receive() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        async def tracking_send(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._too_large(send)

    async def _too_large(self, send: Any) -> None:
        err = {
            "code": "too_large",
            "message": f"request body over {self.max_bytes} bytes",
            "field": "body",
        }
        body = dumps({"error": err, "errors": [err]})
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass
