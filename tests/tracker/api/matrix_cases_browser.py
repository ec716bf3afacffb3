"""Matrix cases: tracking domains (admins only) and an offer's SDK snippet (admins and the
offer's advertiser; partners are refused)."""

from __future__ import annotations

import uuid

from tests.tracker.api.matrix_probe import (
    Ctx,
    _by_id,
    _list,
    _not_admin,
    _objs,
    _scratch_write,
    own,
    registry,
)
from tests.tracker.api.matrix_world import Who

CASES, case = registry()


async def _domain(c: Ctx) -> int:
    body = {"scope": "network", "hostname": f"m{uuid.uuid4().hex[:12]}.matrix.example"}
    r = await c.admin.post("/api/v1/tracking-domains", json=body)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


@case("GET /api/v1/tracking-domains")
async def _(c: Ctx) -> None:
    ident = await _domain(c)
    await _list(c, "/api/v1/tracking-domains", lambda who: None, refuse=_not_admin)
    await c.admin.delete(f"/api/v1/tracking-domains/{ident}")


@case("GET /api/v1/tracking-domains/{domain_id}")
async def _(c: Ctx) -> None:
    ident = await _domain(c)
    await _by_id(c, "/api/v1/tracking-domains/{}", [(ident, None, None)], refuse=_not_admin)
    await c.admin.delete(f"/api/v1/tracking-domains/{ident}")


@case("POST /api/v1/tracking-domains")
async def _(c: Ctx) -> None:
    host = f"m{uuid.uuid4().hex[:12]}.matrix.example"
    await _scratch_write(c, "POST", "/api/v1/tracking-domains", 201,
                         {"scope": "network", "hostname": host})  # fmt: skip
    made = (await c.admin.get("/api/v1/tracking-domains", params={"limit": 1000})).json()["items"]
    for d in made:
        if d["hostname"] == host:
            await c.admin.delete(f"/api/v1/tracking-domains/{d['id']}")


@case("DELETE /api/v1/tracking-domains/{domain_id}")
async def _(c: Ctx) -> None:
    await _scratch_write(c, "DELETE", f"/api/v1/tracking-domains/{await _domain(c)}", 204)


def _merchant(who: Who) -> bool:
    return who.role == "affiliate"


@case("GET /api/v1/offers/{offer_id}/sdk")
async def _(c: Ctx) -> None:
    await _by_id(c, "/api/v1/offers/{}/sdk", _objs(c, "offer"), own, refuse=_merchant)
