"""redis-py asyncio clients with an explicit retry policy and timeouts.

redis-py retries a failing command several times by default: with Redis
down one XADD took seconds. Here nothing is retried inside redis-py; each
caller decides (the click sink keeps its batch, the worker backs off).
"""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from tracker.settings import Settings


def open_redis(settings: Settings, url: str, *, block_ms: int = 0) -> Redis:
    # A BLOCK longer than socket_timeout raises a timeout: leave room for it.
    socket_timeout = settings.redis_timeout_s + block_ms / 1000
    return Redis.from_url(
        url,
        socket_timeout=socket_timeout,
        socket_connect_timeout=settings.redis_timeout_s,
        retry=Retry(NoBackoff(), 0),
        retry_on_error=[],
        health_check_interval=0,
        decode_responses=False,
    )
