"""The world of the tenant-isolation matrix: three advertisers, three partners, an offer
per advertiser, a link per (advertiser, partner) pair, real clicks through the redirect and
real conversions through the postback intake and the worker, partner postback settings and
their deliveries; one key per role and tenant, in read-write and read-only versions.

Every tenant's rows carry a marker (``zzA1zz`` for advertiser 1, ``zzP2zz`` for partner 2)
in names, sub-ids, transaction ids and postback URLs, so that a response can be searched
for another tenant's marker whatever its shape. Revenue is ``717.17`` everywhere: partner
keys must never see it; payouts are ``313.13``: advertiser keys see them only when the
advertiser is in-house (advertiser 2 is); a click carries ``trk_secret=zzTRKzz``, which no
key may ever see (the partners' postback URLs ask for it).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx

from tests.conversions.conftest import burst
from tracker.domain import visibility
from tracker.settings import Settings
from tracker.store.keys import create_key

N = 3
REVENUE = "717.17"
PAYOUT = "313.13"
TRK = "zzTRKzz"
IN_HOUSE = N - 1  # the in-house advertiser


def adv_marker(i: int) -> str:
    return f"zzA{i}zz"


def aff_marker(j: int) -> str:
    return f"zzP{j}zz"


@dataclass(frozen=True)
class Who:
    name: str
    role: str  # admin, advertiser, affiliate
    tenant: int | None  # index 0..N-1 of the advertiser or partner
    write: bool
    token: str

    @property
    def in_house(self) -> bool:
        return self.role == "advertiser" and self.tenant == IN_HOUSE

    @property
    def audience(self) -> str:
        """Its column of docs/visibility.md."""
        scopes = frozenset({"read", "write"} if self.write else {"read"})
        return visibility.audience(self.role, scopes, self.in_house)

    def foreign_markers(self) -> list[str]:
        if self.role == "advertiser":
            payout = [] if self.in_house else [PAYOUT]
            return [adv_marker(k) for k in range(N) if k != self.tenant] + payout + [TRK]
        if self.role == "affiliate":
            return [aff_marker(k) for k in range(N) if k != self.tenant] + [REVENUE, TRK]
        return [TRK]


@dataclass
class World:
    adv: list[dict[str, Any]] = field(default_factory=list)
    aff: list[dict[str, Any]] = field(default_factory=list)
    offer: list[dict[str, Any]] = field(default_factory=list)
    link: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    click: dict[tuple[int, int], str] = field(default_factory=dict)
    conv: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    postback: list[dict[str, Any]] = field(default_factory=list)
    delivery: dict[int, str] = field(default_factory=dict)  # partner -> one outbox id
    scratch: dict[str, Any] = field(default_factory=dict)  # admin-only objects to write on
    who: list[Who] = field(default_factory=list)


async def _ok(r: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert r.status_code == status, r.text
    out: dict[str, Any] = r.json()
    return out


async def build(api: httpx.AsyncClient, service: str, settings: Settings,
                pool: asyncpg.Pool) -> World:  # fmt: skip
    settings.postback_allow_loopback = True
    w = World()
    for i in range(N):
        w.adv.append(
            await _ok(await api.post("/api/v1/advertisers", json={"name": f"adv {adv_marker(i)}"}))
        )
        w.aff.append(
            await _ok(await api.post("/api/v1/affiliates", json={"name": f"aff {aff_marker(i)}"}))
        )
    for i in range(N):
        w.offer.append(
            await _ok(
                await api.post(
                    "/api/v1/offers",
                    json={
                        "advertiser_id": w.adv[i]["id"],
                        "name": f"offer {adv_marker(i)}",
                        "landing_url": "https://shop.example/l?cid={click_id}",
                        "default_payout": PAYOUT,
                        "default_revenue": REVENUE,
                    },
                )
            )
        )
        await _ok(
            await api.put(
                f"/api/v1/offers/{w.offer[i]['id']}/goals/sale",
                json={
                    "name": f"goal {adv_marker(i)}",
                    "payout_flat": PAYOUT,
                    "revenue_flat": REVENUE,
                },
            ),
            200,
        )
    for j in range(N):
        w.postback.append(
            await _ok(
                await api.post(
                    "/api/v1/partner-postbacks",
                    json={
                        "affiliate_id": w.aff[j]["id"],
                        "url_template": f"http://127.0.0.1:9/pb?m={aff_marker(j)}&cid={{click_id}}"
                        "&t={p:trk_secret}",
                    },
                )
            )
        )
    for i in range(N):
        for j in range(N):
            mark = f"{adv_marker(i)}{aff_marker(j)}"
            w.link[i, j] = await _ok(
                await api.post(
                    "/api/v1/links",
                    json={
                        "offer_id": w.offer[i]["id"],
                        "affiliate_id": w.aff[j]["id"],
                        "code": mark,
                        "sub1": mark,
                    },
                )
            )
            async with httpx.AsyncClient(base_url=service) as visitor:
                r = await visitor.get(f"/c/{mark}", params={"sub1": mark, "trk_secret": TRK})
            assert r.status_code == 302, r.text
            w.click[i, j] = r.headers["location"].split("cid=")[1]
    async with httpx.AsyncClient(base_url=service, timeout=10) as http:
        for i in range(N):  # an impression per pair too (the pixel), marked like its click
            for j in range(N):
                mark = f"{adv_marker(i)}{aff_marker(j)}"
                pixel = {"sub1": mark, "trk_secret": TRK}
                assert (await http.get(f"/i/{mark}", params=pixel)).status_code == 200
    await asyncio.sleep(0.2)  # the sink flushes every few ms
    await burst(settings)  # clicks in Postgres before their conversions arrive
    async with httpx.AsyncClient(base_url=service, timeout=10) as http:
        for (i, j), cid in w.click.items():
            r = await http.get(
                "/postback",
                params={
                    "advertiser_id": w.adv[i]["id"],
                    "token": w.adv[i]["postback_token"],
                    "click_id": cid,
                    "txn_id": f"txn{adv_marker(i)}{aff_marker(j)}",
                    "amount": "10",
                },
            )
            assert r.status_code == 202, r.text
    await burst(settings)
    for (i, j), cid in w.click.items():
        row = await pool.fetchrow(
            "SELECT conversion_id, status FROM conversions WHERE click_id = $1",
            __import__("uuid").UUID(cid),
        )
        assert row is not None, "the conversion was attributed to its click"
        w.conv[i, j] = {
            "id": str(row["conversion_id"]),
            "status": row["status"],
            "txn": f"txn{adv_marker(i)}{aff_marker(j)}",
        }
    for j in range(N):
        oid = await pool.fetchval(
            "SELECT id FROM postback_outbox WHERE affiliate_id = $1 LIMIT 1", w.aff[j]["id"]
        )
        assert oid is not None, "the partner's postback was queued"
        w.delivery[j] = str(oid)
    sa = await _ok(await api.post("/api/v1/advertisers", json={"name": "scratch"}))
    sp = await _ok(await api.post("/api/v1/affiliates", json={"name": "scratch"}))
    so = await _ok(
        await api.post(
            "/api/v1/offers",
            json={
                "advertiser_id": sa["id"],
                "name": "scratch",
                "landing_url": "https://s.example/",
            },
        )
    )
    sl = await _ok(
        await api.post("/api/v1/links", json={"offer_id": so["id"], "affiliate_id": sp["id"]})
    )
    w.scratch = {"adv": sa, "aff": sp, "offer": so, "link": sl}
    # A conversion the tracker rejected (a fraud rule: no click), that an admin may override:
    # attributed by a promo code, so there is a partner to pay.
    r = await api.put(
        f"/api/v1/offers/{so['id']}/conversion-settings", json={"require_click": True}
    )
    await _ok(r, 200)
    await _ok(await api.post("/api/v1/promo-codes", json={
        "offer_id": so["id"], "affiliate_id": sp["id"], "code": "MATRIX-HELD"}))  # fmt: skip
    async with httpx.AsyncClient(base_url=service, timeout=10) as http:
        r = await http.get("/postback", params={"advertiser_id": sa["id"], "txn_id": "held",
                                                "token": sa["postback_token"],
                                                "coupon": "MATRIX-HELD", "amount": "5"})  # fmt: skip
    w.scratch["held"] = (await _ok(r, 202))["conversion_id"]
    await burst(settings)
    await _keys(w, pool)
    return w


async def _keys(w: World, pool: asyncpg.Pool) -> None:
    big = 1_000_000
    for write in (True, False):
        scopes = ("read", "write") if write else ("read",)
        suffix = "" if write else "-ro"
        w.who.append(
            Who(
                f"admin{suffix}",
                "admin",
                None,
                write,
                (await create_key(pool, "admin", scopes=scopes, rate_limit_per_min=big)).token,
            )
        )
        for i in range(N):
            key = await create_key(
                pool,
                "advertiser",
                scopes=scopes,
                advertiser_id=w.adv[i]["id"],
                rate_limit_per_min=big,
            )
            w.who.append(Who(f"adv{i}{suffix}", "advertiser", i, write, key.token))
        for j in range(N):
            key = await create_key(
                pool,
                "affiliate",
                scopes=scopes,
                affiliate_id=w.aff[j]["id"],
                rate_limit_per_min=big,
            )
            w.who.append(Who(f"aff{j}{suffix}", "affiliate", j, write, key.token))
