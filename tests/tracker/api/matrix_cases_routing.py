"""Matrix cases: issue 20. Smart links (admins write; each partner reads its own, never
another's; advertisers never), landers (admins write; each advertiser reads its offers'
own; partners never) and the split-test report (every key, its own clicks)."""

from __future__ import annotations

from typing import Any

from tests.tracker.api.matrix_probe import Ctx, _list, _scratch_write, registry
from tests.tracker.api.matrix_world import N, adv_marker, aff_marker

CASES, case = registry()
BASE = "/api/v1/smart-links"


async def _scratch_link(c: Ctx) -> dict[str, Any]:
    s = c.w.scratch
    r = await c.admin.post(BASE, json={"affiliate_id": s["aff"]["id"], "name": "scratch",
                                       "routes": [{"offer_id": s["offer"]["id"]}]})  # fmt: skip
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


async def _partner_links(c: Ctx) -> list[dict[str, Any]]:
    """One smart link per matrix partner, to its own advertiser's offer (which it already
    promotes: nobody sees more offers than before), named with the partner's marker."""
    if "smart" not in c.w.scratch:
        made = []
        for j in range(N):
            r = await c.admin.post(BASE, json={
                "affiliate_id": c.w.aff[j]["id"], "name": f"smart {aff_marker(j)}",
                "routes": [{"offer_id": c.w.offer[j]["id"], "daily_click_cap": 77}]})  # fmt: skip
            assert r.status_code == 201, r.text
            made.append(r.json())
        c.w.scratch["smart"] = made
    out: list[dict[str, Any]] = c.w.scratch["smart"]
    return out


async def _offer_landers(c: Ctx) -> list[dict[str, Any]]:
    """A paused lander on each matrix advertiser's offer, named with its marker (paused:
    later clicks of other cases keep going to the offer's landing URL)."""
    if "landers" not in c.w.scratch:
        made = []
        for i in range(N):
            r = await c.admin.post(f"/api/v1/offers/{c.w.offer[i]['id']}/landers", json={
                "name": f"lander {adv_marker(i)}", "url": "https://shop.example/b?cid={click_id}",
                "status": "paused"})  # fmt: skip
            assert r.status_code == 201, r.text
            made.append(r.json())
        c.w.scratch["landers"] = made
    out: list[dict[str, Any]] = c.w.scratch["landers"]
    return out


@case("POST /api/v1/smart-links")
async def _(c: Ctx) -> None:
    s = c.w.scratch
    await _scratch_write(c, "POST", BASE, 201, {"affiliate_id": s["aff"]["id"],
                                                "routes": [{"offer_id": s["offer"]["id"]}]})  # fmt: skip


@case("GET /api/v1/smart-links")
async def _(c: Ctx) -> None:
    await _partner_links(c)
    await _list(c, BASE, lambda who: aff_marker(who.tenant or 0) if who.role == "affiliate"
                else None, refuse=lambda who: who.role == "advertiser")  # fmt: skip


@case("GET /api/v1/smart-links/{link_id}")
async def _(c: Ctx) -> None:
    for j, link in enumerate(await _partner_links(c)):
        for who in c.everyone():
            expect = (403 if who.role == "advertiser" else
                      200 if who.role == "admin" or who.tenant == j else 404)  # fmt: skip
            r = await c.call(who, "GET", f"{BASE}/{link['id']}", expect)
            if expect == 200:
                caps = r.json()["routes"][0]["daily_click_cap"]
                assert caps == (77 if who.role == "admin" else None), (who.name, caps)


@case("PATCH /api/v1/smart-links/{link_id}")
async def _(c: Ctx) -> None:
    link = await _scratch_link(c)
    for mine in await _partner_links(c):  # tenants' links: refused like the scratch one
        await _scratch_refused(c, "PATCH", f"{BASE}/{mine['id']}", {"name": "x"})
    await _scratch_write(c, "PATCH", f"{BASE}/{link['id']}", 200, {"sticky_hours": 1})


async def _scratch_refused(c: Ctx, method: str, url: str, body: Any) -> None:
    for who in c.everyone():
        if not (who.role == "admin" and who.write):
            await c.call(who, method, url, 403, json=body)


@case("POST /api/v1/smart-links/{link_id}/archive")
async def _(c: Ctx) -> None:
    link = await _scratch_link(c)
    await _scratch_write(c, "POST", f"{BASE}/{link['id']}/archive", 200)


@case("POST /api/v1/smart-links/{link_id}/routes")
async def _(c: Ctx) -> None:
    link = await _scratch_link(c)
    await _scratch_write(c, "POST", f"{BASE}/{link['id']}/routes", 201,
                         {"offer_id": c.w.scratch["offer"]["id"], "priority": 2})  # fmt: skip


@case("PATCH /api/v1/smart-links/{link_id}/routes/{route_id}")
async def _(c: Ctx) -> None:
    link = await _scratch_link(c)
    url = f"{BASE}/{link['id']}/routes/{link['routes'][0]['id']}"
    await _scratch_write(c, "PATCH", url, 200, {"weight": 5, "daily_click_cap": 10})


@case("POST /api/v1/smart-links/{link_id}/routes/{route_id}/archive")
async def _(c: Ctx) -> None:
    link = await _scratch_link(c)
    url = f"{BASE}/{link['id']}/routes/{link['routes'][0]['id']}/archive"
    await _scratch_write(c, "POST", url, 200)


def _landers(offer_id: int) -> str:
    return f"/api/v1/offers/{offer_id}/landers"


@case("POST /api/v1/offers/{offer_id}/landers")
async def _(c: Ctx) -> None:
    await _scratch_write(c, "POST", _landers(c.w.scratch["offer"]["id"]), 201,
                         {"url": "https://s.example/b", "weight": 10})  # fmt: skip


@case("GET /api/v1/offers/{offer_id}/landers")
async def _(c: Ctx) -> None:
    landers = await _offer_landers(c)
    for i in range(N):
        for who in c.everyone():
            expect = (403 if who.role == "affiliate" else
                      200 if who.role == "admin" or who.tenant == i else 404)  # fmt: skip
            r = await c.call(who, "GET", _landers(c.w.offer[i]["id"]), expect)
            if expect == 200:
                assert [d["id"] for d in r.json()] == [landers[i]["id"]]
                assert adv_marker(i) in r.text


@case("PATCH /api/v1/offers/{offer_id}/landers/{lander_id}")
async def _(c: Ctx) -> None:
    offer = c.w.scratch["offer"]["id"]
    r = await c.admin.post(_landers(offer), json={"url": "https://s.example/c"})
    assert r.status_code == 201, r.text
    for i, lander in enumerate(await _offer_landers(c)):
        await _scratch_refused(c, "PATCH", f"{_landers(c.w.offer[i]['id'])}/{lander['id']}",
                               {"weight": 3})  # fmt: skip
    await _scratch_write(c, "PATCH", f"{_landers(offer)}/{r.json()['id']}", 200, {"weight": 3})


@case("POST /api/v1/offers/{offer_id}/landers/{lander_id}/archive")
async def _(c: Ctx) -> None:
    offer = c.w.scratch["offer"]["id"]
    r = await c.admin.post(_landers(offer), json={"url": "https://s.example/d"})
    assert r.status_code == 201, r.text
    await _scratch_write(c, "POST", f"{_landers(offer)}/{r.json()['id']}/archive", 200)


@case("GET /api/v1/reports/landers")
async def _(c: Ctx) -> None:
    await _offer_landers(c)
    for i in range(N):
        for who in c.everyone():
            expect = 404 if who.role == "advertiser" and who.tenant != i else 200
            r = await c.call(who, "GET", "/api/v1/reports/landers", expect,
                             params={**c.span, "offer_id": c.w.offer[i]["id"]})  # fmt: skip
            if expect != 200:
                continue
            # the matrix's clicks carry no lander (it was paused): the landing URL's row holds
            # the offer's conversions, one per partner (a partner sees its own)
            got = sum(row["conversions"] for row in r.json()["rows"])
            assert got == (1 if who.role == "affiliate" else N), (who.name, got)
            names = [row["name"] for row in r.json()["rows"] if row["lander_id"]]
            assert names == ([None] if who.role == "affiliate" else [f"lander {adv_marker(i)}"])
