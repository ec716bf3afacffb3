"""The API's lifespan: a shutdown step that hangs is bounded, logged by name, and does not
keep the later steps (the other components, Redis, the Postgres pool) from running."""

from __future__ import annotations

import asyncio
import logging
import time

import asyncpg
import pytest

from tests.servers import free_port, run_server
from tracker.api import app as app_module
from tracker.api.app import create_api
from tracker.resources import Services
from tracker.settings import Settings


class _Hangs:
    """A component whose stop never ends."""

    async def start_with(self, services: Services) -> None:
        self.services = services

    async def stop(self) -> None:
        await asyncio.Event().wait()

    def __repr__(self) -> str:
        return "<hangs>"


class _Stops:
    stopped = False

    async def start_with(self, services: Services) -> None:
        pass

    async def stop(self) -> None:
        self.stopped = True


async def test_a_hanging_stop_is_bounded_and_named(
    settings: Settings, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app_module, "_STEP_S", 0.5)
    hangs, stops = _Hangs(), _Stops()
    assert settings.database_url and settings.redis_url
    api = create_api(settings, settings.database_url, settings.redis_url, [stops, hangs])
    t0 = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="tracker.api"):
        async with run_server(api, free_port()):
            pool = hangs.services.pool
            assert await pool.fetchval("SELECT 1") == 1
            t0 = time.monotonic()
    assert time.monotonic() - t0 < 5  # one bounded step, not a hang
    assert stops.stopped  # stopped after the hanging one gave up (reverse order)
    assert any("stopping <hangs> failed" in r.getMessage() for r in caplog.records)
    with pytest.raises(asyncpg.InterfaceError):
        await pool.fetchval("SELECT 1")  # the pool was closed all the same
