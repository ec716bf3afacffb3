"""Ground truth of the report API, computed in Python from the stored rows.

A report is recomputed here from the raw clicks, impressions and conversions
(read back from Postgres after the real worker enriched and stored them), each
click and impression priced with the offer's CPC/CPM rates in effect at its time
(``offer_click_rates``), in the report's time zone; nothing here shares code with
tracker/store/reports.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

SUBS = [f"sub{i}" for i in range(1, 11)]
STATUSES = ("pending", "approved", "held", "rejected", "reversed")  # held: docs/adr/0080
COUNTS = ("gross_clicks", "unique_clicks", "human_clicks", "bot_clicks", "impressions",
          *STATUSES)  # fmt: skip
# the money of counted statuses with CPC/CPM, then each status's conversion money
MONEY = ("revenue", "payout", *(f"{s}_{m}" for s in STATUSES for m in ("revenue", "payout")))


@dataclass
class Rates:
    basis: str
    cpc_payout: Decimal
    cpc_revenue: Decimal
    cpm_payout: Decimal
    cpm_revenue: Decimal


def label(t: datetime, unit: str, zone: ZoneInfo) -> str:
    d = t.astimezone(zone)
    if unit == "hour":
        return d.strftime("%Y-%m-%dT%H:00")
    if unit == "day":
        return d.strftime("%Y-%m-%d")
    if unit == "week":
        return (d.date() - timedelta(days=d.weekday())).isoformat()
    return d.strftime("%Y-%m")


def _row(record: asyncpg.Record) -> dict[str, Any]:
    row = dict(record)
    if isinstance(row.get("params"), str):  # jsonb arrives as its text
        row["params"] = json.loads(row["params"])
    return row


class Truth:
    def __init__(self, clicks: list[dict[str, Any]], impressions: list[dict[str, Any]],
                 conversions: list[dict[str, Any]],
                 rates: dict[int, list[tuple[datetime | None, Rates]]],
                 advertisers: dict[int, int], currencies: dict[int, str]) -> None:  # fmt: skip
        self.clicks, self.impressions, self.conversions = clicks, impressions, conversions
        self.rates = rates  # per offer: (from, rates) in time order; None: from the start
        self.advertisers = advertisers  # offer → its advertiser
        self.currencies = currencies  # offer → its currency

    def rate(self, offer: int, at: datetime) -> Rates | None:
        history = self.rates.get(offer, [])
        starts = [float("-inf") if t is None else t.timestamp() for t, _ in history]
        i = bisect_right(starts, at.timestamp())
        return history[i - 1][1] if i else None

    @classmethod
    async def load(cls, pool: asyncpg.Pool, offers: list[int]) -> Truth:
        clicks = [_row(r) for r in await pool.fetch(
            "SELECT * FROM clicks WHERE offer_id = ANY($1::int8[])", offers)]  # fmt: skip
        imps = [_row(r) for r in await pool.fetch(
            "SELECT * FROM impressions WHERE offer_id = ANY($1::int8[])", offers)]  # fmt: skip
        by_id = {c["click_id"]: c for c in clicks}
        convs = []
        for r in await pool.fetch("SELECT * FROM conversions WHERE offer_id = ANY($1::int8[])",
                                  offers):  # fmt: skip
            v = dict(r)
            v["click"] = by_id.get(v["click_id"])
            convs.append(v)
        rates: dict[int, list[tuple[datetime | None, Rates]]] = defaultdict(list)
        for r in await pool.fetch(
            "SELECT *, CASE WHEN isfinite(valid_from) THEN valid_from END AS at"
            " FROM offer_click_rates ORDER BY offer_id, valid_from"
        ):
            rates[r["offer_id"]].append((r["at"], Rates(r["cpc_basis"], r["cpc_payout"],
                                         r["cpc_revenue"], r["cpm_payout"], r["cpm_revenue"])))  # fmt: skip
        offer_rows = await pool.fetch("SELECT id, advertiser_id, currency FROM offers")
        advertisers = {r["id"]: r["advertiser_id"] for r in offer_rows}
        currencies = {r["id"]: r["currency"].strip() for r in offer_rows}
        return cls(clicks, imps, convs, dict(rates), advertisers, currencies)

    def report(self, dims: list[str], start: datetime, end: datetime, tz: str,
               filters: dict[str, list[str]] | None = None, partner: int | None = None,
               offers: set[int] | None = None) -> dict[tuple[Any, ...], dict[str, Any]]:  # fmt: skip
        zone = ZoneInfo(tz)
        out: dict[tuple[Any, ...], dict[str, Any]] = defaultdict(
            lambda: dict.fromkeys(COUNTS, 0) | dict.fromkeys(MONEY, Decimal(0))
        )

        def values(kind: str, row: dict[str, Any]) -> dict[str, Any] | None:
            # clicks and impressions: their own values; a conversion: its click's, but for
            # what it holds itself (partner, offer, goal, status, country, device)
            click = row if kind in "ci" else row.get("click")
            v: dict[str, Any] = {
                "partner": row["affiliate_id"], "offer": row["offer_id"],
                "advertiser": self.advertisers.get(row["offer_id"]),
                "goal": row["goal"] if kind == "v" else None,
                "status": row["status"] if kind == "v" else None,
                # a conversion's amounts are in the currency it was priced in
                "currency": (kind == "v" and (row.get("offer_currency") or "").strip())
                or self.currencies.get(row["offer_id"]),
                "country": row["country"], "device": row["device"],
            }  # fmt: skip
            for name in (*SUBS, "link_id", "route_id", "lander_id", "source", "os", "browser",
                         "region", "city", "referer_domain", "click_class"):  # fmt: skip
                v[name] = click.get(name) if click else None
            v["link"] = v.pop("link_id")
            v["route"], v["lander"] = v.pop("route_id"), v.pop("lander_id")  # issue 20
            for name, value in ((click or {}).get("params") or {}).items():
                v[f"param:{name}"] = value
            if not start <= row["created_at"] < end:
                return None
            if partner is not None and v["partner"] != partner:
                return None
            if offers is not None and v["offer"] not in offers:
                return None
            for dim, allowed in (filters or {}).items():
                if v.get(dim) is None or str(v[dim]) not in allowed:
                    return None
            for unit in ("hour", "day", "week", "month"):
                v[unit] = label(row["created_at"], unit, zone)
            return v

        for c in self.clicks:
            v = values("c", c)
            if v is None:
                continue
            m = out[tuple(v.get(d) for d in dims)]
            r = self.rate(c["offer_id"], c["created_at"])
            m["gross_clicks"] += c["click_class"] != "head"
            m["unique_clicks"] += c["is_unique"]
            m["human_clicks"] += c["click_class"] == "human"
            m["bot_clicks"] += c["click_class"] in ("bot", "preview", "prefetch", "blocked")
            priced = c["is_unique"] if r and r.basis == "unique" else c["click_class"] == "human"
            if r and priced:
                m["payout"] += r.cpc_payout
                m["revenue"] += r.cpc_revenue
        for i in self.impressions:
            v = values("i", i)
            if v is None:
                continue
            m = out[tuple(v.get(d) for d in dims)]  # a HEAD hit makes a row of zeros
            if i["click_class"] == "head":
                continue
            m["impressions"] += 1
            r = self.rate(i["offer_id"], i["created_at"])
            if r:
                m["payout"] += r.cpm_payout * Decimal("0.001")
                m["revenue"] += r.cpm_revenue * Decimal("0.001")
        for cv in self.conversions:
            if cv["affiliate_id"] is None:
                continue
            v = values("v", cv)
            if v is None:
                continue
            m = out[tuple(v.get(d) for d in dims)]
            m[cv["status"]] += 1
            m[f"{cv['status']}_revenue"] += cv["revenue"]
            m[f"{cv['status']}_payout"] += cv["payout"]
            if cv["status"] in ("pending", "approved"):
                m["payout"] += cv["payout"]
                m["revenue"] += cv["revenue"]
        return dict(out)


def rows_of(answer: dict[str, Any]) -> dict[tuple[Any, ...], dict[str, Any]]:
    dims = answer["group_by"]
    return {tuple(r["group"][d] for d in dims): r for r in answer["rows"]}


def assert_matches(answer: dict[str, Any], truth: dict[tuple[Any, ...], dict[str, Any]],
                   hidden: tuple[str, ...] = ()) -> None:  # fmt: skip
    got = rows_of(answer)
    assert set(got) == set(truth), (
        sorted(map(str, set(got) - set(truth)))[:5],
        sorted(map(str, set(truth) - set(got)))[:5],
    )
    for key, want in truth.items():
        row = got[key]
        for name in COUNTS:
            assert row[name] == want[name], (key, name, row[name], want[name])
        assert row["conversions"] == want["pending"] + want["approved"]
        for name in MONEY:
            if name.rsplit("_", 1)[-1] in hidden or name in hidden:
                assert row[name] is None, (key, name)
            else:
                assert Decimal(row[name]) == want[name], (key, name, row[name], want[name])
