"""Matrix cases: the rules that price conversions (goals, overrides, tiers, caps, promo
codes, currency rates, postback authentication)."""

from __future__ import annotations

from typing import Any

from tests.tracker.api.matrix_probe import (
    Case,
    Ctx,
    _by_id,
    _list,
    _not_admin,
    _objs,
    _partner_or_owner,
    _scratch_write,
    admin_read,
    registry,
)

CASES, case = registry()


# the rules that price conversions: goals readable by the offer's tenants; the rest admin
@case("GET /api/v1/offers/{offer_id}/goals")
async def _(c: Ctx) -> None:
    await _by_id(c, "/api/v1/offers/{}/goals", _objs(c, "offer"), _partner_or_owner)


@case("GET /api/v1/offers/{offer_id}/goals/{code}")
async def _(c: Ctx) -> None:
    for ident, _, _ in _objs(c, "offer"):  # a goal no conversion uses, on every matrix offer
        r = await c.admin.put(f"/api/v1/offers/{ident}/goals/matrix-read", json={})
        assert r.status_code == 200, r.text
    await _by_id(c, "/api/v1/offers/{}/goals/matrix-read", _objs(c, "offer"), _partner_or_owner)


@case("PUT /api/v1/offers/{offer_id}/goals/{code}")
async def _(c: Ctx) -> None:
    await _scratch_write(c, "PUT", f"/api/v1/offers/{c.w.scratch['offer']['id']}/goals/g", 200, {})


sub = {
    "conversion-settings": ("PUT", {}, 200),
    "payout-overrides": ("POST", None, 201),
    "payout-tiers": ("POST", {"threshold": "5"}, 201),
    "caps": ("POST", {"period": "day", "limit": "5"}, 201),
    "revenue-rules": ("POST", {"revenue_flat": "5"}, 201),
    "promo-codes": (None, None, 0),
    "price-terms": (None, None, 0),
}
for name, (method, body, ok) in sub.items():

    def reader(name: str = name) -> Case:
        async def run(c: Ctx) -> None:
            await _by_id(c, "/api/v1/offers/{}/" + name, _objs(c, "offer"), refuse=_not_admin)

        return run

    CASES[f"GET /api/v1/offers/{{offer_id}}/{name}"] = reader()
    if method is None:
        continue

    def writer(name: str = name, method: str = method, body: Any = body, ok: int = ok
               ) -> Case:  # fmt: skip
        async def run(c: Ctx) -> None:
            data = body if body is not None else {"affiliate_id": c.w.scratch["aff"]["id"]}
            await _scratch_write(
                c, method, f"/api/v1/offers/{c.w.scratch['offer']['id']}/{name}", ok, data
            )

        return run

    CASES[f"{method} /api/v1/offers/{{offer_id}}/{name}"] = writer()
CASES["PATCH /api/v1/offers/{offer_id}/conversion-settings"] = writer(
    "conversion-settings", "PATCH", {"cap_action": "pending"}, 200
)


# Reads of one rule of the scratch offer, made by the admin: admins only, and 404 under
# another offer's path.
reads = {
    "GET /api/v1/offers/{offer_id}/payout-overrides/{override_id}": ("payout-overrides", None),
    "GET /api/v1/offers/{offer_id}/payout-tiers/{tier_id}": ("payout-tiers", {"threshold": "4"}),
    "GET /api/v1/offers/{offer_id}/caps/{cap_id}": ("caps", {"period": "day", "limit": "4"}),
    "GET /api/v1/offers/{offer_id}/revenue-rules/{rule_id}": (
        "revenue-rules",
        {"revenue_flat": "4"},
    ),
}
for route, (rule, made_with) in reads.items():

    def rule_reader(rule: str = rule, made_with: Any = made_with) -> Case:
        async def run(c: Ctx) -> None:
            base = f"/api/v1/offers/{c.w.scratch['offer']['id']}/{rule}"
            body = made_with or {"affiliate_id": c.w.scratch["aff"]["id"]}
            made = (await c.admin.post(base, json=body)).json()
            for who in c.everyone():
                await c.call(who, "GET", f"{base}/{made['id']}", admin_read(who))
                if who.role == "admin":
                    other = f"/api/v1/offers/{_objs(c, 'offer')[0][0]}/{rule}/{made['id']}"
                    await c.call(who, "GET", other, 404)

        return run

    CASES[route] = rule_reader()


@case("GET /api/v1/promo-codes/{promo_code_id}")
async def _(c: Ctx) -> None:
    made = (await c.admin.post("/api/v1/promo-codes", json={
        "offer_id": c.w.scratch["offer"]["id"], "affiliate_id": c.w.scratch["aff"]["id"],
        "code": "READ-ME"})).json()  # fmt: skip
    for who in c.everyone():
        await c.call(who, "GET", f"/api/v1/promo-codes/{made['id']}", admin_read(who))


@case("GET /api/v1/advertisers/{advertiser_id}/postback-auth")
async def _(c: Ctx) -> None:
    for ident, _, _ in _objs(c, "adv"):
        for who in c.everyone():
            r = await c.call(who, "GET", f"/api/v1/advertisers/{ident}/postback-auth",
                             admin_read(who))  # fmt: skip
            assert "hmac_secret" not in r.text


# Changes to a rule of the scratch offer, made first by the admin: (path, made with, change).
ENDS = {"ends": "2030-01-01T00:00:00Z"}
changes: dict[str, tuple[str, Any, str, Any]] = {
    "PATCH /api/v1/offers/{offer_id}/payout-overrides/{override_id}":
        ("payout-overrides", None, "PATCH {}", ENDS),
    "PATCH /api/v1/offers/{offer_id}/payout-tiers/{tier_id}":
        ("payout-tiers", {"threshold": "3"}, "PATCH {}", ENDS),
    "PATCH /api/v1/offers/{offer_id}/revenue-rules/{rule_id}":
        ("revenue-rules", {"revenue_flat": "3"}, "PATCH {}", ENDS),
    "PATCH /api/v1/offers/{offer_id}/caps/{cap_id}":
        ("caps", {"period": "month", "limit": "3"}, "PATCH {}", {"limit": "4"}),
    "POST /api/v1/offers/{offer_id}/caps/{cap_id}/archive":
        ("caps", {"period": "month", "limit": "3"}, "POST {}/archive", {}),
}  # fmt: skip
for route, (rule, made_with, how, change) in changes.items():

    def changer(rule: str = rule, made_with: Any = made_with, how: str = how,
                change: Any = change) -> Case:  # fmt: skip
        async def run(c: Ctx) -> None:
            base = f"/api/v1/offers/{c.w.scratch['offer']['id']}/{rule}"
            body = (
                made_with if made_with is not None else {"affiliate_id": c.w.scratch["aff"]["id"]}
            )
            made = (await c.admin.post(base, json=body)).json()
            method, path = how.format(f"{base}/{made['id']}").split(" ", 1)
            await _scratch_write(c, method, path, 200, change)

        return run

    CASES[route] = changer()


@case("PATCH /api/v1/promo-codes/{promo_code_id}")
async def _(c: Ctx) -> None:
    made = (await c.admin.post("/api/v1/promo-codes", json={
        "offer_id": c.w.scratch["offer"]["id"], "affiliate_id": c.w.scratch["aff"]["id"],
        "code": "ENDING"})).json()  # fmt: skip
    await _scratch_write(c, "PATCH", f"/api/v1/promo-codes/{made['id']}", 200, ENDS)


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
                await c.call(who, "PUT", f"/api/v1/advertisers/{ident}/postback-auth", 403, json={})
    await _scratch_write(
        c, "PUT", f"/api/v1/advertisers/{c.w.scratch['adv']['id']}/postback-auth", 200, {}
    )


@case("POST /api/v1/advertisers/{advertiser_id}/postback-auth/secret")
async def _(c: Ctx) -> None:
    for ident, _, _ in _objs(c, "adv")[:-1]:
        for who in c.everyone():
            if not (who.role == "admin" and who.write):
                await c.call(who, "POST", f"/api/v1/advertisers/{ident}/postback-auth/secret",
                             403, json={})  # fmt: skip
    await _scratch_write(
        c, "POST", f"/api/v1/advertisers/{c.w.scratch['adv']['id']}/postback-auth/secret", 201,
        {"overlap_s": 60},
    )  # fmt: skip
