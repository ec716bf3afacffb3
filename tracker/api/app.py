"""The FastAPI application and the one lifespan that owns every pool."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence

from fastapi import FastAPI

from tracker.api import errors
from tracker.api.limits import BodySizeLimit
from tracker.api.routes import (
    conversion_rules,
    conversions,
    exports,
    keys,
    ops,
    partner_postbacks,
    postback,
    reads,
    reports,
    rule_lists,
)
from tracker.api.routes.management import offers, tenants
from tracker.redis_client import open_redis
from tracker.services import Component, Services
from tracker.settings import Settings
from tracker.store.db import open_pool

log = logging.getLogger("tracker.api")

DESCRIPTION = """Click and conversion tracking for affiliate and partner marketing.

Authenticate with `Authorization: Bearer <API key>` (create one with
`tracker keys create --role admin`). Every error is JSON:
`{"error": {"code", "message", "field"}, "errors": [...]}`.
"""


_API = (401, 403, 404, 409, 413, 429)
# Which error answers each router documents (ops routes have no key; postbacks their own).
_ERRORS: dict[object, tuple[int, ...]] = {
    **{m: _API for m in (tenants, offers, keys, reads, reports, exports, partner_postbacks,
                         conversions, conversion_rules, rule_lists)},
    postback: (401, 403, 413, 422, 503),
    ops: (),
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
            yield
        finally:
            # Lifespan teardown can be cancelled: shield the final flushes.
            for component in reversed(started):
                try:
                    await asyncio.shield(component.stop())
                except Exception:
                    log.exception("stopping %r failed", component)
            await redis.aclose()
            await asyncio.wait_for(pool.close(), 10)

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
        postback,
        partner_postbacks,
        conversions,
        conversion_rules,
        rule_lists,
        ops,
    ):
        app.include_router(module.router, responses=errors.documented(*_ERRORS[module]))
    app.add_middleware(BodySizeLimit, max_bytes=settings.api_max_body_bytes)
    return app
