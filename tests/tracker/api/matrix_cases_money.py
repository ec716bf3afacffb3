"""Matrix cases: lookups, conversions, exports, reports, partner postbacks."""

from __future__ import annotations

from typing import Any

from tests.tracker.api.matrix_probe import (
    Ctx,
    _admin_only_write,
    _advertiser_key,
    _by_id,
    _first_aff,
    _list,
    _objs,
    _pair_marker,
    own,
    registry,
)
from tests.tracker.api.matrix_world import N, Who, aff_marker

CASES, case = registry()


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
            await c.call(who, "POST", f"/api/v1/conversions/{cv['id']}/status", expect, json=body)


@case("POST /api/v1/conversions/{conversion_id}/override")
async def _(c: Ctx) -> None:
    # Admin keys only (403 for every other key, before any lookup); the world's conversions
    # were not held by the tracker (409), the scratch one was rejected by a fraud rule (200).
    body = {"status": "approved", "reason": "matrix"}
    for cv in c.w.conv.values():
        await _admin_only_write(c, "POST", f"/api/v1/conversions/{cv['id']}/override", body,
                                ok=409)  # fmt: skip
    held = f"/api/v1/conversions/{c.w.scratch['held']}/override"
    await _admin_only_write(c, "POST", held, body, ok=200)


@case("GET /api/v1/exports/clicks")
async def _(c: Ctx) -> None:
    await _list(c, "/api/v1/exports/clicks", _pair_marker, params=c.span)


@case("GET /api/v1/exports/impressions")
async def _(c: Ctx) -> None:
    await _list(c, "/api/v1/exports/impressions", _pair_marker, params=c.span)


@case("GET /api/v1/exports/conversions")
async def _(c: Ctx) -> None:
    await _list(c, "/api/v1/exports/conversions", _pair_marker, params=c.span)


@case("GET /api/v1/reports")
async def _(c: Ctx) -> None:
    offers = [o["id"] for o in c.w.offer]
    affs = [a["id"] for a in c.w.aff]
    # rollup (partner, offer) and raw rows (sub1, offer with a filter on a sub-id dimension)
    for group_by in ("partner", "offer", "sub1", "offer,country"):
        for who in c.everyone():
            r = await c.call(
                who, "GET", "/api/v1/reports", 200, params={**c.span, "group_by": group_by}
            )
            body = r.json()
            keys = {row["group"].get(group_by) for row in body["rows"]}
            hidden = {"affiliate": ("revenue", "profit", "rpc"),
                      "advertiser": ("payout", "profit", "epc")}.get(who.role, ())  # fmt: skip
            if who.in_house:  # advertiser and network are one company
                hidden = ()
            for row in [*body["rows"], body["totals"]]:
                assert all(row[f] is None for f in hidden), (who.name, row)
            if who.role == "admin":
                assert body["totals"]["gross_clicks"] >= N * N
                # amounts in one currency have a total; several (other tests' offers) never
                assert (body["totals"]["revenue"] is None) == (body["currency"] is None), body
                continue
            assert body["totals"]["gross_clicks"] == N, (who.name, body["totals"])
            t = who.tenant or 0
            if group_by == "partner":
                assert keys == ({affs[t]} if who.role == "affiliate" else set(affs)), keys
            elif group_by == "offer":
                assert keys == ({offers[t]} if who.role == "advertiser" else set(offers)), keys


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


@case("PATCH /api/v1/partner-postbacks/{postback_id}")
async def _(c: Ctx) -> None:
    for ident, _, j in pb_objs(c):
        for who in c.everyone():
            if not who.write or who.role == "advertiser":
                expect = 403
            else:
                expect = 200 if pb_sees(who, None, j) else 404
            r = await c.call(
                who, "PATCH", f"/api/v1/partner-postbacks/{ident}", expect, json={"active": True}
            )
            assert r.status_code != 200 or r.json()["active"] is True


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
