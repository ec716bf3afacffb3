"""Matrix cases: advertisers, partners, offers, links and keys."""

from __future__ import annotations

from tests.tracker.api.matrix_probe import (  # noqa: F401
    Ctx,
    _admin_only_write,
    _advertiser_key,
    _advertiser_or_owner,
    _by_id,
    _first_adv,
    _first_aff,
    _list,
    _not_admin,
    _objs,
    _pair_marker,
    _partner_or_owner,
    _scratch_write,
    _tenant_marker,
    _tenant_writes,
    own,
    registry,
)
from tests.tracker.api.matrix_world import N, Who, adv_marker, aff_marker  # noqa: F401

CASES, case = registry()


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
