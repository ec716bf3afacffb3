"""Is Postgres reachable, is Redis? Every process asks every few seconds, for alerts.

``tracker_dependency_up{dependency}`` is 1 while the last ``SELECT 1`` (``PING``)
answered within the timeout, 0 otherwise; with several processes the minimum counts
(docs/adr/0101). ``/readyz`` asks the same questions when it is called.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import asyncpg
from redis.asyncio import Redis

from tracker import metrics
from tracker.resources import Services

log = logging.getLogger("tracker")


async def probe_once(pool: asyncpg.Pool, redis: Redis, timeout_s: float = 2.0) -> dict[str, bool]:
    up: dict[str, bool] = {}
    for name, call in (("postgres", lambda: pool.fetchval("SELECT 1")), ("redis", redis.ping)):
        try:
            await asyncio.wait_for(call(), timeout_s)
            up[name] = True
        except Exception:  # any failure is "not reachable" for the alert
            up[name] = False
        metrics.DEPENDENCY_UP.labels(name).set(int(up[name]))
    return up


async def probe_forever(pool: asyncpg.Pool, redis: Redis, interval_s: float = 5.0) -> None:
    last: dict[str, bool] = {}
    while True:
        up = await probe_once(pool, redis)
        for name, ok in up.items():
            if last.get(name, True) != ok:
                log.log(logging.INFO if ok else logging.WARNING,
                        "%s %s", name, "reachable again" if ok else "unreachable")  # fmt: skip
        last = up
        await asyncio.sleep(interval_s)


class DependencyProbe:
    """``probe_forever`` as a component of an API process."""

    def __init__(self, interval_s: float = 5.0) -> None:
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def start_with(self, services: Services) -> None:
        self._task = asyncio.create_task(
            probe_forever(services.pool, services.redis, self.interval_s), name="probe"
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
