"""The FastAPI application and the one lifespan that owns every pool."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Sequence

from fastapi import FastAPI

from tracker.api import errors
from tracker.api.limits import BodySizeLimit
from tracker.api.observe import Observe
from tracker.api.routes import (
    conversion_rules,
    conversions,
    exports,
    incoming_postbacks,
    keys,
    ops,
    partner_postbacks,
    reads,
    reports,
    rule_lists,
    sdk,
    tracking_domains,
    traffic_reports,
    traffic_rules,
)
from tracker.api.routes.management import offers, tenants
from tracker.redis_client import open_redis
from tracker.resources import Component, Services
from tracker.settings import Settings
from tracker.store.db import open_pool

log = logging.getLogger("tracker.api")
_STEP_S = 10.0  # the longest one shutdown step may take
_SLOW_S = 2.0  # a step slower than this is logged


async def _step(what: str, aw: Awaitable[object]) -> bool:
    """Await one shutdown step within _STEP_S; whether it finished. Never raises: the
    next steps still run."""
    t0 = time.monotonic()
    try:
        await asyncio.wait_for(aw, _STEP_S)
    except Exception:
        log.exception("shutdown: %s failed after %.1f s", what, time.monotonic() - t0)
        return False
    took = time.monotonic() - t0
    if took > _SLOW_S:
        log.warning("shutdown: %s took %.1f s", what, took)
    return True


DESCRIPTION = """Click and conversion tracking for affiliate and partner marketing.

Authenticate with `Authorization: Bearer <API key>` (create one with
`tracker keys create --role admin`). Every error is JSON:
`{"error": {"code", "message", "field"}, "errors": [...]}`.
"""


_API = (401, 403, 404, 409, 413, 429)
# Which error answers each router documents (ops routes have no key; postbacks their own).
_ERRORS: dict[object, tuple[int, ...]] = {
    **{m: _API for m in (tenants, offers, keys, reads, reports, exports, partner_postbacks,
                         conversions, conversion_rules, rule_lists, tracking_domains,
                         traffic_rules, traffic_reports)},
    incoming_postbacks: (401, 403, 413, 422, 503),
    ops: (),
    sdk: (),  # the SDK routes document their own answers
}  # fmt: skip


def create_api(
    settings: Settings,
    database_url: str,
    redis_url: str,
    components: Sequence[Component] = (),
) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # two open from the start: a large report runs as two parts (docs/adr/0072)
        pool = await open_pool(settings, database_url, min_size=2, max_size=20)
        redis = open_redis(settings, redis_url, block_ms=settings.ingest_block_ms)
        services = Services(settings, pool, redis)
        app.state.services = services
        started: list[Component] = []
        try:
            for component in components:
                await component.start_with(services)
                started.append(component)
            log.info("process %d ready", os.getpid())
            yield
        finally:
            # Lifespan teardown can be cancelled: shield the final flushes. Each step is
            # bounded and timed, so a slow shutdown names the step that was slow.
            for component in reversed(started):
                await _step(f"stopping {component!r}", asyncio.shield(component.stop()))
            await _step("closing Redis", redis.aclose())
            if not await _step("closing the Postgres pool", pool.close()):
                pool.terminate()  # a connection still out: close it anyway
            log.info("process %d stopped", os.getpid())

    app = FastAPI(
        title="tracker",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    errors.install(app)
    for module in (
        tenants,
        offers,
        keys,
        reads,
        reports,
        exports,
        incoming_postbacks,
        partner_postbacks,
        conversions,
        conversion_rules,
        rule_lists,
        tracking_domains,
        sdk,
        traffic_rules,
        traffic_reports,
        ops,
    ):
        app.include_router(module.router, responses=errors.documented(*_ERRORS[module]))
    app.add_middleware(BodySizeLimit, max_bytes=settings.api_max_body_bytes)
    app.add_middleware(Observe)  # outside the body limit: a 413 is timed and carries an id
    return app
