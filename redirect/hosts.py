"""The Host check in front of every route (issue 18, docs/adr/0096).

While no tracking domain is registered every Host is answered, as before. From the
first one on, a request whose Host is neither a registered domain nor the tracker's own
(``TRACKER_PUBLIC_URL``) gets 421 Misdirected Request; health and metrics answer any
Host. The hot path reads one frozenset (empty: nothing to check); a refresher re-reads
the table every ``link_refresh_s``, so a domain registered in any process is answered by
every process within that time.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg
import orjson

from tracker import metrics
from tracker.domain.hosts import OPEN_PATHS, allowed_hosts, host_name
from tracker.resources import Services
from tracker.store import tracking_domains

log = logging.getLogger("tracker.redirect")

_ERR = {"code": "unknown_host", "field": "host",
        "message": "this host is not a tracking domain of this tracker"}  # fmt: skip
_BODY = orjson.dumps({"error": _ERR, "errors": [_ERR]})
_START = {"type": "http.response.start", "status": 421, "headers": [
    (b"content-type", b"application/json"), (b"content-length", str(len(_BODY)).encode()),
    (b"cache-control", b"no-store")]}  # fmt: skip
_END = {"type": "http.response.body", "body": _BODY}


class HostGate:
    def __init__(self, refresh_s: float) -> None:
        self._refresh_s = refresh_s
        self.allowed: frozenset[bytes] = frozenset()  # empty: every Host is answered
        self._pool: asyncpg.Pool | None = None
        self._base = ""
        self._task: asyncio.Task[None] | None = None

    async def start_with(self, services: Services) -> None:
        self._pool = services.pool
        self._base = services.settings.base_url
        await self.refresh()
        self._task = asyncio.create_task(self._loop(), name="host-refresh")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def refresh(self) -> None:
        assert self._pool is not None
        self.allowed = allowed_hosts(await tracking_domains.hostnames(self._pool), self._base)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_s)
            try:
                await self.refresh()
            except Exception:  # keep the last set; a Postgres blip must not open or close it
                log.exception("tracking domain refresh failed")

    def refuses(self, scope: dict[str, Any]) -> bool:
        """Whether to refuse this request (call only while ``allowed`` is not empty)."""
        if scope["path"] in OPEN_PATHS:
            return False
        for name, value in scope["headers"]:
            if name == b"host":
                return host_name(value) not in self.allowed
        return True  # no Host at all (HTTP/1.0)

    @staticmethod
    async def refuse(send: Any) -> None:
        metrics.HOSTS_REFUSED.inc()
        await send(_START)
        await send(_END)
