"""Matrix cases: traffic quality (issue 19): the traffic rules (admins only) and the
traffic reports (every tenant, its own rows)."""

from __future__ import annotations

from tests.tracker.api.matrix_probe import (
    Ctx,
    _list,
    _not_admin,
    _scratch_write,
    admin_read,
    registry,
)
from tests.tracker.api.matrix_world import N

CASES, case = registry()
BASE = "/api/v1/traffic-rules"


async def _rule(c: Ctx) -> int:
    r = await c.admin.post(BASE, json={"offer_id": c.w.scratch["offer"]["id"],
                                       "ua_blocklist": ["matrixbot"]})  # fmt: skip
    assert r.status_code == 201, r.text
    rule_id: int = r.json()["id"]
    return rule_id


@case("POST /api/v1/traffic-rules")
async def _(c: Ctx) -> None:
    body = {"offer_id": c.w.scratch["offer"]["id"], "affiliate_id": c.w.scratch["aff"]["id"],
            "datacenter": "flag", "ip_blocklist": ["198.51.100.0/24"]}  # fmt: skip
    await _scratch_write(c, "POST", BASE, 201, body)


@case("GET /api/v1/traffic-rules")
async def _(c: Ctx) -> None:
    await _rule(c)
    await _list(c, BASE, lambda who: None, refuse=_not_admin)


@case("GET /api/v1/traffic-rules/{rule_id}")
async def _(c: Ctx) -> None:
    rule_id = await _rule(c)
    for who in c.everyone():
        await c.call(who, "GET", f"{BASE}/{rule_id}", admin_read(who))


@case("PATCH /api/v1/traffic-rules/{rule_id}")
async def _(c: Ctx) -> None:
    rule_id = await _rule(c)
    await _scratch_write(c, "PATCH", f"{BASE}/{rule_id}", 200, {"datacenter": "block"})


@case("POST /api/v1/traffic-rules/{rule_id}/archive")
async def _(c: Ctx) -> None:
    rule_id = await _rule(c)
    await _scratch_write(c, "POST", f"{BASE}/{rule_id}/archive", 200, None)


@case("GET /api/v1/reports/traffic")
async def _(c: Ctx) -> None:
    offers = [o["id"] for o in c.w.offer]
    affs = [a["id"] for a in c.w.aff]
    for who in c.everyone():
        r = await c.call(who, "GET", "/api/v1/reports/traffic", 200,
                         params={**c.span, "group_by": "offer,partner"})  # fmt: skip
        body = r.json()
        pairs = {(row["offer_id"], row["affiliate_id"]) for row in body["rows"]}
        if who.role == "admin":
            assert body["totals"]["gross"] >= N * N
            continue
        t = who.tenant or 0
        assert body["totals"]["gross"] == N, (who.name, body["totals"])
        if who.role == "affiliate":
            assert pairs == {(o, affs[t]) for o in offers}, pairs
            other = affs[(t + 1) % N]  # another partner's rows: not found
            await c.call(who, "GET", "/api/v1/reports/traffic", 404,
                         params={**c.span, "affiliate_id": other})  # fmt: skip
        else:
            assert pairs == {(offers[t], a) for a in affs}, pairs


@case("GET /api/v1/reports/ctit")
async def _(c: Ctx) -> None:
    offers = [o["id"] for o in c.w.offer]
    affs = [a["id"] for a in c.w.aff]
    for who in c.everyone():
        r = await c.call(who, "GET", "/api/v1/reports/ctit", 200, params=c.span)
        pairs = {(row["offer_id"], row["affiliate_id"]) for row in r.json()["rows"]}
        if who.role == "admin":
            assert {(offers[i], affs[j]) for (i, j) in c.w.conv} <= pairs
            continue
        t = who.tenant or 0
        mine = {(offers[i], affs[j]) for (i, j) in c.w.conv
                if (who.role == "affiliate" and j == t) or (who.role == "advertiser" and i == t)}  # fmt: skip
        assert pairs == mine, (who.name, pairs)
