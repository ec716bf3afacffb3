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

from tests.tracker.api import matrix_cases_browser as browser
from tests.tracker.api import matrix_cases_manage as manage
from tests.tracker.api import matrix_cases_money as money
from tests.tracker.api import matrix_cases_rules as rules
from tests.tracker.api import matrix_cases_traffic as traffic
from tests.tracker.api.matrix_fields import Checker
from tests.tracker.api.matrix_probe import Ctx
from tests.tracker.api.matrix_world import build
from tracker.api.app import create_api
from tracker.domain import visibility
from tracker.settings import Settings

# Routes without API keys: health and metrics, the merchant postback intake (its own
# token or signature auth, tested in tests/conversions/test_security.py), and the SDK with
# its browser conversions (origins per offer: tests/tracker/api/test_sdk.py).
PUBLIC = {"GET /healthz", "GET /readyz", "GET /metrics", "GET /pixel",
          *(f"{m} /{p}" for m in ("GET", "POST") for p in ("postback", "aff_lsr", "aff_goal")),
          "GET /sdk.js", "GET /sdk/{version}.js", "OPTIONS /sdk/offers/{offer_id}/conversions",
          "POST /sdk/offers/{offer_id}/conversions", "GET /tls-check"}  # fmt: skip

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


CASES = {**manage.CASES, **money.CASES, **rules.CASES, **browser.CASES, **traffic.CASES}


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
            c.key = key
            try:
                await run(c)
            except AssertionError as exc:
                raise AssertionError(f"{key}: {exc}") from None
        assert c.calls > 1000, c.calls
        print(f"tenant matrix: {len(CASES)} routes, {len(w.who)} keys, {c.calls} calls")
        _fields_match_the_table(await api.get("/openapi.json"), c)
    finally:
        for client in clients.values():
            await client.aclose()


def _fields_match_the_table(doc: httpx.Response, c: Ctx) -> None:
    """Every operation of the OpenAPI document, every answer of every key: 0 leaks
    against docs/visibility.md (tests/tracker/api/matrix_fields.py)."""
    check = Checker(doc.json())
    schemas = dict(check.operations())
    for key, schema in schemas.items():
        if schema is not None and key not in PUBLIC:
            check.declared(schema)
    for who, key, r in c.answers:
        check.answer(who, key, schemas[key], r)
    rep = check.report
    assert not rep.undeclared, (
        f"fields not in tracker/domain/visibility.py: {sorted(rep.undeclared)}"
    )
    assert rep.leaks == [], "\n".join(rep.leaks[:30])
    # generated from the document: every operation answered (2xx) some key, and every read
    # was answered to every audience that may read it
    answered = {key for key, _ in rep.seen}
    assert set(schemas) - PUBLIC - answered <= {"DELETE /api/v1/keys/{key_id}"}, sorted(
        set(schemas) - PUBLIC - answered
    )
    audiences = {who.audience for who in c.w.who}
    assert audiences == set(visibility.AUDIENCES), audiences
    for key in schemas:
        if not key.startswith("GET ") or key in PUBLIC:
            continue
        resource = _resource(check, schemas[key], key)
        readers = set(visibility.ADMINS) if resource in visibility.ADMIN_RESOURCES else (
            {*visibility.ADMINS, visibility.PARTNER} if resource in visibility.PARTNER_RESOURCES
            else audiences - {visibility.PARTNER}
            if resource in visibility.ADVERTISER_RESOURCES else audiences)  # fmt: skip
        missing = {a for a in readers if (key, a) not in rep.seen}
        assert not missing, f"{key}: no answer checked for {sorted(missing)}"
    print(
        f"visibility matrix: {len(schemas)} operations, {rep.answers} answers,"
        f" {rep.fields_checked} fields checked, {len(rep.leaks)} leaks"
    )


def _resource(check: Checker, schema: dict[str, object] | None, key: str) -> str:
    """The table's resource an operation answers with (through pages and lists)."""
    from tests.tracker.api.matrix_fields import EXPORTS

    if key in EXPORTS:
        return EXPORTS[key]
    names = [name for name, _ in check._reachable(schema, set())]
    return next((n for n in names if n in visibility.FIELDS), "")
