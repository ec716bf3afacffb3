"""The postback sender as a component of a worker process."""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from ingest.partner_postbacks.deliveries import PostbackSender
from ingest.partner_postbacks.http import HttpClient
from tracker.resources import Services
from tracker.settings import Settings

log = logging.getLogger("tracker.postbacks")


def make_sender(settings: Settings, pool: asyncpg.Pool) -> PostbackSender:
    http = HttpClient(
        timeout_s=settings.postback_timeout_s, allow_loopback=settings.postback_allow_loopback
    )
    return PostbackSender(
        pool,
        http,
        concurrency=settings.postback_concurrency,
        per_destination=settings.postback_destination_concurrency,
        backoff_base_s=settings.postback_backoff_base_s,
        breaker_threshold=settings.postback_breaker_threshold,
    )


class SenderComponent:
    def __init__(self) -> None:
        self.sender: PostbackSender | None = None
        self._task: asyncio.Task[None] | None = None

    async def start_with(self, services: Services) -> None:
        self.sender = make_sender(services.settings, services.pool)
        # Attempts still out at stop are given a few seconds (the API's shutdown steps
        # are bounded at 10 s), then cancelled: their rows are claimed again later.
        drain_s = min(services.settings.postback_timeout_s, 5.0)
        self._task = asyncio.create_task(self.sender.run(drain_s=drain_s), name="postback-sender")

    async def stop(self) -> None:
        if self.sender is None or self._task is None:
            return
        self.sender.stop()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), 15)
        except TimeoutError:
            self._task.cancel()
