"""The worker as a component of another process (``tracker up``)."""

from __future__ import annotations

import asyncio
import logging

from ingest.worker import Worker
from tracker.resources import Services

log = logging.getLogger("tracker.ingest")


class WorkerComponent:
    def __init__(self, grace_s: float = 10.0) -> None:
        self.grace_s = grace_s
        self.worker: Worker | None = None
        self._task: asyncio.Task[None] | None = None

    async def start_with(self, services: Services) -> None:
        self.worker = Worker(services.settings, services.pool, services.redis)
        self.grace_s = services.settings.ingest_grace_s
        self._task = asyncio.create_task(self._run(), name="ingest-worker")

    async def _run(self) -> None:
        assert self.worker is not None
        while True:
            try:
                await self.worker.run()
                return
            except Exception:  # keep ingesting; the entries stay pending and are retried
                log.exception("ingest worker failed; restarting in 1 s")
                await asyncio.sleep(1)

    async def stop(self) -> None:
        if self.worker is None or self._task is None:
            return
        self.worker.stop()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), self.grace_s)
        except TimeoutError:
            log.error("ingest worker did not finish its batch in %.0f s; cancelling", self.grace_s)
            self._task.cancel()
