"""redis-py asyncio clients with an explicit retry policy and timeouts.

redis-py retries a failing command several times by default: with Redis
down one XADD took seconds. Here nothing is retried inside redis-py; each
caller decides (the click sink keeps its batch, the worker backs off).
"""

from __future__ import annotations

import os
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from tracker.settings import Settings

CLUSTER_SCHEME = "redis+cluster://"


# What a Redis call raises when the server is away. uvloop raises RuntimeError ("… the
# handler is closed") for a write on a transport already closed, where asyncio raises
# ConnectionError (MagicStack/uvloop#506); redis-py drops that connection first, so the
# next call reconnects. Catch this only around Redis calls.
REDIS_AWAY: tuple[type[BaseException], ...] = (RedisError, OSError, RuntimeError)
_CONNECTION = os.path.join("redis", "asyncio", "connection.py")


def writer_gone(exc: BaseException) -> bool:
    """redis-py writing on a connection that another task (the cluster client dropping a
    failed node) closed in the meantime: an AttributeError ("'NoneType' object has no
    attribute 'writelines'") or TypeError ("'NoneType' object is not callable") from inside
    its asyncio connection, where ConnectionError was meant (redis/redis-py#4287, fixed
    after 8.1.0). redis-py disconnects before it re-raises, so the next call reconnects."""
    if not isinstance(exc, (AttributeError, TypeError)) or "NoneType" not in str(exc):
        return False
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(_CONNECTION):
            return True
        tb = tb.tb_next
    return False


def away(exc: BaseException) -> bool:
    """Whether a Redis call failed because the server is away (``except Exception`` around
    Redis calls only, then re-raise what this refuses)."""
    return isinstance(exc, REDIS_AWAY) or writer_gone(exc)


def is_cluster(url: str) -> bool:
    return url.startswith(CLUSTER_SCHEME)


def cluster_seeds(url: str) -> list[tuple[str, int]]:
    """``redis+cluster://h1:p1,h2:p2`` → [(h1, p1), (h2, p2)]."""
    seeds = []
    for part in url[len(CLUSTER_SCHEME) :].split("/", 1)[0].split(","):
        host, _, port = part.strip().rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"bad cluster seed {part!r} in TRACKER_REDIS_URL")
        seeds.append((host.strip("[]"), int(port)))
    return seeds


def open_redis(settings: Settings, url: str, *, block_ms: int = 0) -> Any:
    """A client for one Redis or, for ``redis+cluster://`` URLs, a Redis Cluster.

    Both are typed ``Any`` here: the cluster client is not a subclass of
    ``Redis``, but offers the same commands for single-key calls.
    """
    # A BLOCK longer than socket_timeout raises a timeout: leave room for it.
    socket_timeout = settings.redis_timeout_s + block_ms / 1000
    if is_cluster(url):
        return RedisCluster(
            startup_nodes=[ClusterNode(h, p) for h, p in cluster_seeds(url)],
            socket_timeout=socket_timeout,
            socket_connect_timeout=settings.redis_timeout_s,
            retry=Retry(NoBackoff(), 0),
            decode_responses=False,
            require_full_coverage=False,
        )
    return Redis.from_url(
        url,
        socket_timeout=socket_timeout,
        socket_connect_timeout=settings.redis_timeout_s,
        retry=Retry(NoBackoff(), 0),
        retry_on_error=[],
        health_check_interval=0,
        decode_responses=False,
    )
