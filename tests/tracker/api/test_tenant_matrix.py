"""Tenant isolation, every endpoint x every role (ADR 0065).

Admin, each advertiser and each partner, in read-write and read-only keys, call every
route of the app: no response ever carries another tenant's marker (nor, for partners,
revenue), ids of other tenants answer 404, calls out of a role or scope answer 403, and
each tenant does see its own rows. The routes are read from ``app.routes``: a route that
this matrix does not cover fails the test.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import fastapi.routing
import httpx

from tests.tracker.api.matrix_world import N, Who, World, adv_marker, aff_marker, build
from tracker.api.app import create_api
from tracker.settings import Settings

# Routes without API keys: health and metrics, and the merchant postback intake (its own
# token or signature auth, tested in tests/conversions/test_security.py).
PUBLIC = {"GET /healthz", "GET /readyz", "GET /metrics", "GET /pixel",
          *(f"{m} /{p}" for m in ("GET", "POST") for p in ("postback", "aff_lsr", "aff_goal"))}  # fmt: skip


class Ctx:
    def __init__(self, w: World, clients: dict[str, httpx.AsyncClient]) -> None:
        self.w = w
        self.clients = clients
        self.calls = 0
        self.admin = clients["admin"]
        now = datetime.now(UTC)
        self.span = {
            "from": (now - timedelta(days=1)).isoformat(),
            "to": (now + timedelta(hours=2)).isoformat(),
        }

    async def call(self, who: Who, method: str, url: str, expect: int, **kw: Any) -> httpx.Response:
        r = await self.clients[who.name].request(method, url, **kw)
        self.calls += 1
        assert r.status_code == expect, f"{who.name} {method} {url}: {r.status_code} {r.text[:300]}"
        if r.status_code < 300:
            for marker in who.foreign_markers():
                assert marker not in r.text, f"{who.name} {method} {url} leaked {marker}"
        return r

    def everyone(self) -> list[Who]:
        return self.w.who


def own(who: Who, i: int | None = None, j: int | None = None) -> bool:
    """May ``who`` see a row of advertiser ``i`` / partner ``j``?"""
    if who.role == "admin":
        return True
    if who.role == "advertiser":
        return i is not None and who.tenant == i
    return j is not None and who.tenant == j


def admin_read(who: Who) -> int:
    return 200 if who.role == "admin" else 403


def admin_write(who: Who, ok: int = 200) -> int:
    return ok if who.role == "admin" and who.write else 403


async def _admin_only_write(c: Ctx, method: str, url: str, body: Any, ok: int = 200) -> None:
    for who in c.everyone():
        if who.role == "admin" and who.write:
            continue
        await c.call(who, method, url, 403, json=body)
    admin = next(w for w in c.everyone() if w.name == "admin")
    await c.call(admin, method, url, ok, json=body)


async def _list(c: Ctx, url: str, mine: Callable[[Who], str | None], params: Any = None,
                refuse: Callable[[Who], bool] = lambda who: False) -> None:  # fmt: skip
    for who in c.everyone():
        if refuse(who):
            await c.call(who, "GET", url, 403, params=params)
            continue
        r = await c.call(who, "GET", url, 200, params=params)
        marker = mine(who) if who.role != "admin" else None  # admins page through all tests' rows
        if marker is not None:
            assert marker in r.text, f"{who.name} GET {url} does not see its own rows"


def _tenant_marker(who: Who) -> str | None:
    if who.role == "advertiser" and who.tenant is not None:
        return adv_marker(who.tenant)
    if who.role == "affiliate" and who.tenant is not None:
        return aff_marker(who.tenant)
    return None


async def _by_id(c: Ctx, template: str, objects: list[tuple[Any, int | None, int | None]],
                 sees: Callable[[Who, int | None, int | None], bool] = own,
                 refuse: Callable[[Who], bool] = lambda who: False) -> None:  # fmt: skip
    for who in c.everyone():
        for ident, i, j in objects:
            expect = 403 if refuse(who) else 200 if sees(who, i, j) else 404
            await c.call(who, "GET", template.format(ident), expect)


# -- the cases, one per route ----------------------------------------------------------
def _partner_or_owner(who: Who, i: int | None, j: int | None) -> bool:
    """Matrix partners have a link on every matrix offer: they see its offer and advertiser."""
    return (i is not None and (who.role == "affiliate" or own(who, i))) or who.role == "admin"


def _advertiser_or_owner(who: Who, i: int | None, j: int | None) -> bool:
    """Matrix advertisers have every matrix partner on their offers."""
    return (
        j is not None and (who.role == "advertiser" or own(who, None, j))
    ) or who.role == "admin"


def _first_adv(who: Who) -> str | None:
    return adv_marker(who.tenant if who.role == "advertiser" and who.tenant is not None else 0)


def _first_aff(who: Who) -> str | None:
    return aff_marker(who.tenant if who.role == "affiliate" and who.tenant is not None else 0)


def _pair_marker(who: Who) -> str | None:
    return _tenant_marker(who) or adv_marker(0)


def _not_admin(who: Who) -> bool:
    return who.role != "admin"


def _advertiser_key(who: Who) -> bool:
    return who.role == "advertiser"


def _objs(c: Ctx, kind: str) -> list[tuple[Any, int | None, int | None]]:
    w = c.w
    scratch = [(w.scratch[kind]["id"], None, None)] if kind in w.scratch else []
    if kind == "adv":
        return [(a["id"], i, None) for i, a in enumerate(w.adv)] + scratch
    if kind == "aff":
        return [(a["id"], None, j) for j, a in enumerate(w.aff)] + scratch
    if kind == "offer":
        return [(o["id"], i, None) for i, o in enumerate(w.offer)] + scratch
    if kind == "link":
        return [(lk["id"], i, j) for (i, j), lk in w.link.items()] + scratch
    if kind == "click":
        return [(cid, i, j) for (i, j), cid in w.click.items()]
    if kind == "conv":
        return [(cv["id"], i, j) for (i, j), cv in w.conv.items()]
    raise AssertionError(kind)


async def _tenant_writes(c: Ctx, kind: str, collection: str, body: dict[str, Any]) -> None:
    """PATCH and archive: admin-only; tried on every tenant's row, done on a scratch row."""
    for ident, _, _ in _objs(c, kind)[:-1]:
        for who in c.everyone():
            if not (who.role == "admin" and who.write):
                await c.call(who, "PATCH", f"/api/v1/{collection}/{ident}", 403, json=body)
                await c.call(who, "POST", f"/api/v1/{collection}/{ident}/archive", 403)


async def _scratch_write(c: Ctx, method: str, url: str, ok: int = 200, body: Any = None) -> None:
    await _admin_only_write(c, method, url, body, ok)


def _case_table() -> dict[str, Callable[[Ctx], Awaitable[None]]]:
    t: dict[str, Callable[[Ctx], Awaitable[None]]] = {}

    def case(key: str) -> Callable[[Callable[[Ctx], Awaitable[None]]], Any]:
        def put(fn: Callable[[Ctx], Awaitable[None]]) -> Any:
            t[key] = fn
            return fn

        return put

    # advertisers and partners
    @case("GET /api/v1/advertisers")
    async def _(c: Ctx) -> None:
        await _list(c, "/api/v1/advertisers", _first_adv)

    @case("GET /api/v1/advertisers/{advertiser_id}")
    async def _(c: Ctx) -> None:
        await _by_id(c, "/api/v1/advertisers/{}", _objs(c, "adv"), _partner_or_owner)

    @case("POST /api/v1/advertisers")
    async def _(c: Ctx) -> None:
        await _scratch_write(c, "POST", "/api/v1/advertisers", 201, {"name": "made"})

    @case("PATCH /api/v1/advertisers/{advertiser_id}")
    async def _(c: Ctx) -> None:
        await _tenant_writes(c, "adv", "advertisers", {"name": "renamed"})
        await _scratch_write(
            c, "PATCH", f"/api/v1/advertisers/{c.w.scratch['adv']['id']}", 200, {"name": "scratch"}
        )

    @case("POST /api/v1/advertisers/{advertiser_id}/archive")
    async def _(c: Ctx) -> None:  # tenants were refused with the PATCH case
        new = (await c.admin.post("/api/v1/advertisers", json={"name": "gone"})).json()
        await _scratch_write(c, "POST", f"/api/v1/advertisers/{new['id']}/archive")

    @case("GET /api/v1/affiliates")
    async def _(c: Ctx) -> None:
        await _list(c, "/api/v1/affiliates", _first_aff)

    @case("GET /api/v1/affiliates/{affiliate_id}")
    async def _(c: Ctx) -> None:
        await _by_id(c, "/api/v1/affiliates/{}", _objs(c, "aff"), _advertiser_or_owner)

    @case("POST /api/v1/affiliates")
    async def _(c: Ctx) -> None:
        await _scratch_write(c, "POST", "/api/v1/affiliates", 201, {"name": "made"})

    @case("PATCH /api/v1/affiliates/{affiliate_id}")
    async def _(c: Ctx) -> None:
        await _tenant_writes(c, "aff", "affiliates", {"name": "renamed"})
        await _scratch_write(
            c, "PATCH", f"/api/v1/affiliates/{c.w.scratch['aff']['id']}", 200, {"name": "scratch"}
        )

    @case("POST /api/v1/affiliates/{affiliate_id}/archive")
    async def _(c: Ctx) -> None:
        new = (await c.admin.post("/api/v1/affiliates", json={"name": "gone"})).json()
        await _scratch_write(c, "POST", f"/api/v1/affiliates/{new['id']}/archive")

    # offers and links
    @case("GET /api/v1/offers")
    async def _(c: Ctx) -> None:
        await _list(c, "/api/v1/offers", _first_adv)
        await _list(
            c, "/api/v1/offers", lambda who: None, params={"advertiser_id": c.w.adv[1]["id"]}
        )  # a filter never widens

    @case("GET /api/v1/offers/{offer_id}")
    async def _(c: Ctx) -> None:
        await _by_id(c, "/api/v1/offers/{}", _objs(c, "offer"), _partner_or_owner)

    @case("POST /api/v1/offers")
    async def _(c: Ctx) -> None:
        await _scratch_write(
            c,
            "POST",
            "/api/v1/offers",
            201,
            {
                "advertiser_id": c.w.scratch["adv"]["id"],
                "name": "made",
                "landing_url": "https://s.example/",
            },
        )

    @case("PATCH /api/v1/offers/{offer_id}")
    async def _(c: Ctx) -> None:
        await _tenant_writes(c, "offer", "offers", {"name": "renamed"})
        await _scratch_write(
            c, "PATCH", f"/api/v1/offers/{c.w.scratch['offer']['id']}", 200, {"name": "scratch"}
        )

    @case("POST /api/v1/offers/{offer_id}/archive")
    async def _(c: Ctx) -> None:
        new = (
            await c.admin.post(
                "/api/v1/offers",
                json={
                    "advertiser_id": c.w.scratch["adv"]["id"],
                    "name": "gone",
                    "landing_url": "https://s.example/",
                },
            )
        ).json()
        await _scratch_write(c, "POST", f"/api/v1/offers/{new['id']}/archive")

    @case("GET /api/v1/links")
    async def _(c: Ctx) -> None:
        await _list(c, "/api/v1/links", _pair_marker)
        await _list(
            c,
            "/api/v1/links",
            lambda who: None,
            params={"affiliate_id": c.w.aff[2]["id"], "offer_id": c.w.offer[2]["id"]},
        )

    @case("GET /api/v1/links/{link_id}")
    async def _(c: Ctx) -> None:
        await _by_id(c, "/api/v1/links/{}", _objs(c, "link"))

    @case("POST /api/v1/links")
    async def _(c: Ctx) -> None:
        await _scratch_write(
            c,
            "POST",
            "/api/v1/links",
            201,
            {"offer_id": c.w.scratch["offer"]["id"], "affiliate_id": c.w.scratch["aff"]["id"]},
        )

    @case("PATCH /api/v1/links/{link_id}")
    async def _(c: Ctx) -> None:
        await _tenant_writes(c, "link", "links", {"sub2": "x"})
        await _scratch_write(
            c, "PATCH", f"/api/v1/links/{c.w.scratch['link']['id']}", 200, {"sub2": "x"}
        )

    @case("POST /api/v1/links/{link_id}/archive")
    async def _(c: Ctx) -> None:
        new = (
            await c.admin.post(
                "/api/v1/links",
                json={
                    "offer_id": c.w.scratch["offer"]["id"],
                    "affiliate_id": c.w.scratch["aff"]["id"],
                },
            )
        ).json()
        await _scratch_write(c, "POST", f"/api/v1/links/{new['id']}/archive")

    # keys: admins only
    @case("GET /api/v1/keys")
    async def _(c: Ctx) -> None:
        await _list(c, "/api/v1/keys", lambda who: None, refuse=_not_admin)

    @case("GET /api/v1/keys/{key_id}")
    async def _(c: Ctx) -> None:
        kid = (await c.admin.get("/api/v1/keys")).json()["items"][0]["id"]
        await _by_id(c, "/api/v1/keys/{}", [(kid, None, None)], refuse=_not_admin)

    @case("POST /api/v1/keys")
    async def _(c: Ctx) -> None:
        await _scratch_write(
            c,
            "POST",
            "/api/v1/keys",
            201,
            {"role": "affiliate", "affiliate_id": c.w.scratch["aff"]["id"]},
        )

    @case("DELETE /api/v1/keys/{key_id}")
    async def _(c: Ctx) -> None:
        new = (await c.admin.post("/api/v1/keys", json={"role": "admin"})).json()
        await _scratch_write(c, "DELETE", f"/api/v1/keys/{new['id']}", 204)

    # lookups, lists, exports, reports
    @case("GET /api/v1/clicks/{click_id}")
    async def _(c: Ctx) -> None:
        await _by_id(c, "/api/v1/clicks/{}", _objs(c, "click"))
        r = await c.admin.get(f"/api/v1/clicks/{c.w.click[1, 2]}")
        assert [x["txn_id"] for x in r.json()["conversions"]] == [c.w.conv[1, 2]["txn"]]

    @case("GET /api/v1/conversions/{conversion_id}")
    async def _(c: Ctx) -> None:
        await _by_id(c, "/api/v1/conversions/{}", _objs(c, "conv"))

    @case("GET /api/v1/conversions/lookup")
    async def _(c: Ctx) -> None:
        for (i, j), cv in c.w.conv.items():
            for who in c.everyone():
                r = await c.call(
                    who,
                    "GET",
                    "/api/v1/conversions/lookup",
                    200 if own(who, i, j) else 404,
                    params={"advertiser_id": c.w.adv[i]["id"], "txn_id": cv["txn"]},
                )
                if r.status_code == 200:
                    [item] = r.json()["items"]
                    assert item["decision"] and item["history"], "decision record and history"

    @case("GET /api/v1/conversions")
    async def _(c: Ctx) -> None:
        await _list(c, "/api/v1/conversions", _pair_marker)
        await _list(
            c,
            "/api/v1/conversions",
            lambda who: None,
            params={"advertiser_id": c.w.adv[0]["id"], "affiliate_id": c.w.aff[0]["id"]},
        )

    @case("POST /api/v1/conversions/{conversion_id}/status")
    async def _(c: Ctx) -> None:
        for (i, j), cv in c.w.conv.items():
            body = {"status": cv["status"]}  # the same status: allowed calls change nothing
            for who in c.everyone():
                if not who.write or who.role == "affiliate":
                    expect = 403
                else:
                    expect = 200 if own(who, i, j) else 404
                await c.call(
                    who, "POST", f"/api/v1/conversions/{cv['id']}/status", expect, json=body
                )

    @case("GET /api/v1/exports/clicks")
    async def _(c: Ctx) -> None:
        await _list(c, "/api/v1/exports/clicks", _pair_marker, params=c.span)

    @case("GET /api/v1/exports/conversions")
    async def _(c: Ctx) -> None:
        await _list(c, "/api/v1/exports/conversions", _pair_marker, params=c.span)

    @case("GET /api/v1/reports")
    async def _(c: Ctx) -> None:
        offers = [o["id"] for o in c.w.offer]
        affs = [a["id"] for a in c.w.aff]
        for group_by in ("affiliate", "offer"):
            for who in c.everyone():
                r = await c.call(
                    who, "GET", "/api/v1/reports", 200, params={**c.span, "group_by": group_by}
                )
                body = r.json()
                keys = {row["key"] for row in body["rows"]}
                if who.role == "admin":
                    assert body["totals"]["gross_clicks"] >= N * N
                    continue
                assert body["totals"]["gross_clicks"] == N, (who.name, body["totals"])
                t = who.tenant or 0
                if who.role == "advertiser":
                    assert keys == ({offers[t]} if group_by == "offer" else set(affs)), keys
                else:
                    assert keys == ({affs[t]} if group_by == "affiliate" else set(offers)), keys
                    assert all(row["revenue"] in ("0", "0.0000") for row in body["rows"])

    # partner postback settings and deliveries: admins and the partner itself
    def pb_objs(c: Ctx) -> list[tuple[Any, int | None, int | None]]:
        return [(pb["id"], None, j) for j, pb in enumerate(c.w.postback)]

    def pb_sees(who: Who, i: int | None, j: int | None) -> bool:
        return own(who, None, j)

    @case("GET /api/v1/partner-postbacks")
    async def _(c: Ctx) -> None:
        await _list(c, "/api/v1/partner-postbacks", _first_aff, refuse=_advertiser_key)

    @case("GET /api/v1/partner-postbacks/{postback_id}")
    async def _(c: Ctx) -> None:
        await _by_id(c, "/api/v1/partner-postbacks/{}", pb_objs(c), pb_sees, refuse=_advertiser_key)

    @case("POST /api/v1/partner-postbacks/{postback_id}/test")
    async def _(c: Ctx) -> None:
        for ident, _, j in pb_objs(c):
            for who in c.everyone():
                expect = 403 if who.role == "advertiser" else 200 if pb_sees(who, None, j) else 404
                await c.call(who, "POST", f"/api/v1/partner-postbacks/{ident}/test", expect)

    @case("POST /api/v1/partner-postbacks")
    async def _(c: Ctx) -> None:
        for j, aff in enumerate(c.w.aff):
            body = (
                {"affiliate_id": aff["id"], "active": False}
                if False
                else {
                    "affiliate_id": aff["id"],
                    "url_template": f"http://127.0.0.1:9/x?m={aff_marker(j)}",
                    "events": ["reversed"],
                }
            )
            for who in c.everyone():
                if not who.write or who.role == "advertiser":
                    expect = 403
                else:
                    expect = 201 if own(who, None, j) else 404
                await c.call(who, "POST", "/api/v1/partner-postbacks", expect, json=body)

    @case("GET /api/v1/deliveries")
    async def _(c: Ctx) -> None:
        await _list(c, "/api/v1/deliveries", _first_aff, refuse=_advertiser_key)

    @case("GET /api/v1/deliveries/{delivery_id}")
    async def _(c: Ctx) -> None:
        objs = [(d, None, j) for j, d in c.w.delivery.items()]
        await _by_id(c, "/api/v1/deliveries/{}", objs, pb_sees, refuse=_advertiser_key)

    @case("POST /api/v1/deliveries/replay")
    async def _(c: Ctx) -> None:
        for who in c.everyone():  # not a delivery id
            r = await c.call(who, "GET", "/api/v1/deliveries/replay", 405)
            assert r.headers["allow"] == "POST"
        for j, d in c.w.delivery.items():
            for who in c.everyone():
                if not who.write or who.role == "advertiser":
                    await c.call(who, "POST", "/api/v1/deliveries/replay", 403, json={"ids": [d]})
                    continue
                r = await c.call(who, "POST", "/api/v1/deliveries/replay", 200, json={"ids": [d]})
                if not own(who, None, j):
                    assert r.json()["replayed"] == 0, f"{who.name} replayed another's delivery"

    # the rules that price conversions: goals readable by the offer's tenants; the rest admin
    @case("GET /api/v1/offers/{offer_id}/goals")
    async def _(c: Ctx) -> None:
        await _by_id(c, "/api/v1/offers/{}/goals", _objs(c, "offer"), _partner_or_owner)

    @case("PUT /api/v1/offers/{offer_id}/goals/{code}")
    async def _(c: Ctx) -> None:
        await _scratch_write(
            c, "PUT", f"/api/v1/offers/{c.w.scratch['offer']['id']}/goals/g", 200, {}
        )

    sub = {
        "conversion-settings": ("PUT", {}, 200),
        "payout-overrides": ("POST", None, 201),
        "payout-tiers": ("POST", {"threshold": "5"}, 201),
        "caps": ("POST", {"period": "day", "limit": "5"}, 201),
        "promo-codes": (None, None, 0),
    }
    for name, (method, body, ok) in sub.items():

        def reader(name: str = name) -> Callable[[Ctx], Awaitable[None]]:
            async def run(c: Ctx) -> None:
                await _by_id(c, "/api/v1/offers/{}/" + name, _objs(c, "offer"), refuse=_not_admin)

            return run

        t[f"GET /api/v1/offers/{{offer_id}}/{name}"] = reader()
        if method is None:
            continue

        def writer(name: str = name, method: str = method, body: Any = body, ok: int = ok
                   ) -> Callable[[Ctx], Awaitable[None]]:  # fmt: skip
            async def run(c: Ctx) -> None:
                data = body if body is not None else {"affiliate_id": c.w.scratch["aff"]["id"]}
                await _scratch_write(
                    c, method, f"/api/v1/offers/{c.w.scratch['offer']['id']}/{name}", ok, data
                )

            return run

        t[f"{method} /api/v1/offers/{{offer_id}}/{name}"] = writer()

    @case("POST /api/v1/promo-codes")
    async def _(c: Ctx) -> None:
        await _scratch_write(
            c,
            "POST",
            "/api/v1/promo-codes",
            201,
            {
                "offer_id": c.w.scratch["offer"]["id"],
                "affiliate_id": c.w.scratch["aff"]["id"],
                "code": "SCRATCH",
            },
        )

    @case("GET /api/v1/currency-rates")
    async def _(c: Ctx) -> None:
        await _list(c, "/api/v1/currency-rates", lambda who: None, refuse=_not_admin)

    @case("PUT /api/v1/currency-rates")
    async def _(c: Ctx) -> None:
        await _scratch_write(
            c, "PUT", "/api/v1/currency-rates", 200, {"base": "EUR", "quote": "USD", "rate": "1.1"}
        )

    @case("PUT /api/v1/advertisers/{advertiser_id}/postback-auth")
    async def _(c: Ctx) -> None:
        for ident, _, _ in _objs(c, "adv")[:-1]:
            for who in c.everyone():
                if not (who.role == "admin" and who.write):
                    await c.call(
                        who, "PUT", f"/api/v1/advertisers/{ident}/postback-auth", 403, json={}
                    )
        await _scratch_write(
            c, "PUT", f"/api/v1/advertisers/{c.w.scratch['adv']['id']}/postback-auth", 200, {}
        )

    return t


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


CASES = _case_table()


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
    finally:
        for client in clients.values():
            await client.aclose()
