"""Landers and split tests on the real redirect and worker (issue 20): visitors split by
weight and kept on their lander, weights and pauses live, the lander and route stored on
the click and its conversion, reports by route and by lander, the split-test report's
figures and confidence, and conversions of smart-link clicks attributed and sent to the
partner as for plain links."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx

from tests.conversions.conftest import burst
from tests.redirect.helpers import CHROME, make_link
from tests.redirect.routing_world import netdbs, offer, partner, smart_link, visit, within
from tracker.settings import Settings

__all__ = ["netdbs"]


def _de(i: int) -> str:
    return f"10.2.{i // 250}.{i % 250 + 1}"


def _where(r: httpx.Response) -> tuple[str, str]:
    """(host, click id) of a redirect to a page whose query carries cid={click_id}."""
    assert r.status_code == 302, r.text
    url = urlsplit(r.headers["location"])
    return url.hostname or "", parse_qs(url.query)["cid"][0]


async def _lander(api: httpx.AsyncClient, offer_id: int, name: str, weight: int) -> Any:
    r = await api.post(f"/api/v1/offers/{offer_id}/landers",
                       json={"name": name, "url": f"https://{name}.example/p?cid={{click_id}}",
                             "weight": weight})  # fmt: skip
    assert r.status_code == 201, r.text
    return r.json()


async def test_landers_split_by_weight_stick_and_change_live(
    netdbs: Settings, service: str, api: httpx.AsyncClient
) -> None:
    o = await offer(api, "lo")
    code = (await make_link(api, o))["code"]
    a = await _lander(api, o["id"], "la", 80)
    b = await _lander(api, o["id"], "lb", 20)

    async def split() -> bool:
        return _where(await visit(service, code, _de(0)))[0] in ("la.example", "lb.example")

    await within(2.0, split)
    hosts = Counter([_where(await visit(service, code, _de(i)))[0] for i in range(300)])
    assert set(hosts) == {"la.example", "lb.example"}, hosts
    assert 0.7 < hosts["la.example"] / 300 < 0.9, hosts
    for i in range(10):  # a visitor keeps its lander
        assert len({_where(await visit(service, code, _de(i)))[0] for _ in range(4)}) == 1
    # weights change live: B alone, then B paused (A alone), then every lander archived
    await api.patch(f"/api/v1/offers/{o['id']}/landers/{a['id']}", json={"weight": 1})
    r = await api.patch(f"/api/v1/offers/{o['id']}/landers/{b['id']}", json={"weight": 1000000})
    assert r.status_code == 200 and r.json()["weight"] == 1000000

    async def mostly_b() -> bool:
        got = Counter([_where(await visit(service, code, _de(i)))[0] for i in range(40)])
        return got["lb.example"] >= 39

    await within(2.0, mostly_b)
    await api.patch(f"/api/v1/offers/{o['id']}/landers/{b['id']}", json={"status": "paused"})

    async def only_a() -> bool:
        return {_where(await visit(service, code, _de(i)))[0] for i in range(20)} == {"la.example"}

    await within(2.0, only_a)
    for d in (a, b):
        r = await api.post(f"/api/v1/offers/{o['id']}/landers/{d['id']}/archive")
        assert r.status_code == 200 and r.json()["status"] == "archived"

    async def landing() -> bool:
        return _where(await visit(service, code, _de(1)))[0] == "lo.example"

    await within(2.0, landing)
    listed = (await api.get(f"/api/v1/offers/{o['id']}/landers")).json()
    assert [(d["id"], d["status"]) for d in listed] == [(a["id"], "archived"),
                                                       (b["id"], "archived")]  # fmt: skip


async def test_route_and_lander_reach_reports_the_split_test_and_partner_postbacks(
    netdbs: Settings, service: str, api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    netdbs.postback_allow_loopback = True
    a, b = await offer(api, "ra2"), await offer(api, "rb2")
    la = await _lander(api, a["id"], "va", 50)
    lb = await _lander(api, a["id"], "vb", 50)
    aff = await partner(api)
    r = await api.post("/api/v1/partner-postbacks", json={
        "affiliate_id": aff, "url_template": "http://127.0.0.1:9/pb?cid={click_id}"})  # fmt: skip
    assert r.status_code == 201, r.text
    link = await smart_link(api, aff, [
        {"offer_id": a["id"], "priority": 1, "targeting": {"countries": {"allow": ["DE"]}}},
        {"offer_id": b["id"], "priority": 2},
    ])  # fmt: skip
    ra, rb = (r["id"] for r in link["routes"])

    by_lander: dict[str, list[str]] = {"va.example": [], "vb.example": [], "ra2.example": []}

    async def one(i: int) -> str:
        h, cid = _where(await visit(service, link["code"], _de(i), f"{CHROME} {i}"))
        by_lander[h].append(cid)
        return h

    n = 0

    async def ready() -> bool:  # the new landers are live (clicks before went to the URL)
        nonlocal n
        n += 1
        return await one(1000 + n) != "ra2.example"

    await within(2.0, ready)
    for i in range(60):
        await one(i)
    fr = [_where(await visit(service, link["code"], f"10.3.0.{i + 1}"))[1] for i in range(10)]
    # conversions: 12 of lander A's clicks, 2 of B's, 3 of route b's
    adv_a = (await api.get(f"/api/v1/advertisers/{a['advertiser_id']}")).json()
    adv_b = (await api.get(f"/api/v1/advertisers/{b['advertiser_id']}")).json()
    converted = [(adv_a, c) for c in by_lander["va.example"][:12]]
    converted += [(adv_a, c) for c in by_lander["vb.example"][:2]]
    converted += [(adv_b, c) for c in fr[:3]]
    await burst(netdbs)  # the clicks first: the split test counts conversions by click time
    async with httpx.AsyncClient(base_url=service) as http:
        for n, (adv, cid) in enumerate(converted):
            r = await http.get("/postback", params={"advertiser_id": adv["id"],
                                                    "token": adv["postback_token"],
                                                    "click_id": cid, "txn_id": f"t{n}"})  # fmt: skip
            assert r.status_code == 202, r.text
    await burst(netdbs)
    # attributed as on a plain link: the route's offer, the smart link's partner; the
    # partner's postback queued for each
    rows = await pool.fetch(
        "SELECT offer_id, affiliate_id, route_id, lander_id FROM conversions"
        " WHERE click_id = ANY($1::uuid[])", [c for _, c in converted])  # fmt: skip
    assert Counter((r["offer_id"], r["affiliate_id"], r["route_id"], r["lander_id"])
                   for r in rows) == {(a["id"], aff, ra, la["id"]): 12,
                                      (a["id"], aff, ra, lb["id"]): 2,
                                      (b["id"], aff, rb, None): 3}  # fmt: skip
    queued = await pool.fetchval(
        "SELECT count(*) FROM postback_outbox WHERE affiliate_id = $1", aff
    )
    assert queued == 17
    now = datetime.now(UTC)
    span = {
        "from": (now - timedelta(hours=1)).isoformat(),
        "to": (now + timedelta(hours=1)).isoformat(),
    }
    rep = await api.get("/api/v1/reports", params={**span, "group_by": "route", "partner": aff})
    assert rep.status_code == 200, rep.text
    got = {row["group"]["route"]: (row["gross_clicks"], row["conversions"])
           for row in rep.json()["rows"]}  # fmt: skip
    n_a = sum(len(v) for v in by_lander.values())
    assert got[ra] == (n_a, 14) and got[rb] == (10, 3), got
    rep = await api.get("/api/v1/reports", params={**span, "group_by": "lander",
                                                   "offer": str(a["id"])})  # fmt: skip
    got = {row["group"]["lander"]: (row["gross_clicks"], row["conversions"])
           for row in rep.json()["rows"]}  # fmt: skip
    want = {la["id"]: (len(by_lander["va.example"]), 12),
            lb["id"]: (len(by_lander["vb.example"]), 2),
            None: (len(by_lander["ra2.example"]), 0)}  # fmt: skip
    assert got == {k: v for k, v in want.items() if v[0]}, got
    # the split test: A against B, by human clicks; B is the control when named
    r = await api.get("/api/v1/reports/landers", params={**span, "offer_id": a["id"],
                                                        "control": lb["id"]})  # fmt: skip
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["control"] == lb["id"]
    rows_by = {row["lander_id"]: row for row in body["rows"]}
    va, vb = rows_by[la["id"]], rows_by[lb["id"]]
    assert vb["control"] and vb["z"] is None and not va["control"]
    n_va = len(by_lander["va.example"])
    assert va["clicks"] == n_va and va["conversions"] == 12
    assert Decimal(va["cr"]) == (Decimal(12 * 100) / n_va).quantize(Decimal("0.0001"))
    assert Decimal(va["epc"]) == (Decimal(12) / n_va).quantize(Decimal("0.0001"))  # 1.00 each
    assert Decimal(va["z"]) > 0 and Decimal(va["confidence"]) > Decimal("0.9")
    assert Decimal(va["p_value"]) + Decimal(va["confidence"]) == 1
