"""Tenant isolation, every endpoint x every role (ADR 0065).

Admin, each advertiser and each partner, in read-write and read-only keys, call every
route of the app: no response ever carries another tenant's marker (nor, for partners,
revenue), ids of other tenants answer 404, calls out of a role or scope answer 403, and
each tenant does see its own rows. The routes are read from ``app.routes``: a route that
this matrix does not cover fails the test.
"""

from __future__ import annotations

import asyncpg
import fastapi.routing
import httpx

from tests.tracker.api import matrix_cases_manage as manage
from tests.tracker.api import matrix_cases_money as money
from tests.tracker.api import matrix_cases_rules as rules
from tests.tracker.api import matrix_cases_traffic as traffic
from tests.tracker.api.matrix_probe import Ctx
from tests.tracker.api.matrix_world import build
from tracker.api.app import create_api
from tracker.settings import Settings

# Routes without API keys: health and metrics, and the merchant postback intake (its own
# token or signature auth, tested in tests/conversions/test_security.py).
PUBLIC = {"GET /healthz", "GET /readyz", "GET /metrics", "GET /pixel",
          *(f"{m} /{p}" for m in ("GET", "POST") for p in ("postback", "aff_lsr", "aff_goal"))}  # fmt: skip

# Routes without API keys: health and metrics, and the merchant postback intake (its own
# token or signature auth, tested in tests/conversions/test_security.py).


def _routes(settings: Settings) -> set[str]:
    """Every (method, path) the app answers, hidden routes included."""
    app = create_api(settings, "postgresql://unused", "redis://unused")
    # FastAPI >= 0.16x keeps included routers lazily; iter_route_contexts flattens them.
    flat = getattr(fastapi.routing, "iter_route_contexts", None)
    routes = list(flat(app.routes)) if flat else app.routes
    found = {f"{m} {getattr(r, 'path_format', r.path)}" for r in routes for m in (getattr(r, "methods", None) or ())
             if m != "HEAD" and not r.path.startswith(("/openapi", "/docs"))}  # fmt: skip
    assert len(found) > 40, sorted(found)
    return found


CASES = {**manage.CASES, **money.CASES, **rules.CASES, **traffic.CASES}


def test_the_matrix_covers_every_route(settings: Settings) -> None:
    routes = _routes(settings)
    assert routes - PUBLIC - set(CASES) == set(), "routes the tenant matrix does not cover"
    assert set(CASES) - routes == set(), "matrix cases of routes that do not exist"


async def test_tenant_isolation_matrix(
    settings: Settings, service: str, api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    w = await build(api, service, settings, pool)
    clients = {who.name: httpx.AsyncClient(base_url=service, timeout=20,
                                           headers={"Authorization": f"Bearer {who.token}"})
               for who in w.who}  # fmt: skip
    try:
        c = Ctx(w, clients)
        for key, run in CASES.items():
            try:
                await run(c)
            except AssertionError as exc:
                raise AssertionError(f"{key}: {exc}") from None
        assert c.calls > 1000, c.calls
        print(f"tenant matrix: {len(CASES)} routes, {len(w.who)} keys, {c.calls} calls")
    finally:
        for client in clients.values():
            await client.aclose()
