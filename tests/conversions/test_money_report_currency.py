"""A report never adds amounts in different currencies when an offer's currency changes
from a date (docs/adr/0081, 0105): the offer's clicks and conversions before the change
are reported in the old currency, those after in the new one, split by ``currency``."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from tests.conversions.conftest import burst, clicks, world
from tests.conversions.money import postback
from tracker.settings import Settings


async def test_an_offer_whose_currency_changed_is_split_at_the_change(
    settings: Settings, service: str, api: httpx.AsyncClient, http: httpx.AsyncClient
) -> None:
    w = await world(api)
    adv, aff, offer = w["advertiser"], w["affiliates"][0], w["offers"][0]
    oid, code = offer["id"], w["links"][(offer["id"], aff["id"])]["code"]
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    [k1] = await clicks(service, code, 1)
    await postback(http, adv, click_id=k1, txn_id="d1", amount="10")
    await burst(settings)
    soon = datetime.now(UTC) + timedelta(seconds=2)
    r = await api.patch(f"/api/v1/offers/{oid}", json={"default_payout": "3", "currency": "EUR",
                                                       "money_from": soon.isoformat()})  # fmt: skip
    assert r.status_code == 200, r.text
    await asyncio.sleep(max((soon - datetime.now(UTC)).total_seconds(), 0) + 0.1)
    await burst(settings)  # the sweep writes the terms now in force into the offer
    k2, k3 = await clicks(service, code, 2)
    await postback(http, adv, click_id=k2, txn_id="d2", amount="10")
    await postback(http, adv, click_id=k3, txn_id="d3", amount="10")
    await burst(settings)

    span = {"from": start.isoformat(), "to": (start + timedelta(hours=2)).isoformat()}

    async def report(**params: Any) -> dict[str, Any]:
        r = await api.get("/api/v1/reports", params={"offer": oid, **span, **params})
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        return out

    def figures(row: dict[str, Any]) -> tuple[int, int, Decimal, Decimal]:
        return (row["gross_clicks"], row["approved"], Decimal(row["approved_payout"]),
                Decimal(row["payout"]))  # fmt: skip

    for group_by in ("offer", "partner", "advertiser"):
        rep = await report(group_by=group_by, tz="Asia/Kolkata")
        assert rep["currency"] is None and rep["group_by"][-1] == "currency", rep
        assert rep["source"] == "raw"  # a rollup row may hold both currencies
        got = {r["group"]["currency"]: figures(r) for r in rep["rows"]}
        assert got == {"USD": (1, 1, Decimal("2.5"), Decimal("2.5")),
                       "EUR": (2, 2, Decimal(6), Decimal(6))}, (group_by, got)  # fmt: skip
        assert rep["totals"]["payout"] is None and rep["totals"]["gross_clicks"] == 3
    for cur, want in (("USD", (1, 1, Decimal("2.5"), Decimal("2.5"))),
                      ("EUR", (2, 2, Decimal(6), Decimal(6)))):  # fmt: skip
        rep = await report(group_by="offer", currency=cur)
        assert rep["currency"] == cur and [figures(r) for r in rep["rows"]] == [want], rep
