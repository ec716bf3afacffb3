"""Everything an offer says about pricing, capping and screening a conversion, in one query."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from tracker.domain.caps import Cap
from tracker.domain.fraud import FraudSettings
from tracker.domain.payouts import Override, PriceTerms, RevenueRule, Rule, Tier, terms_at

_RULES = """
SELECT o.id, o.currency, o.default_payout, o.default_revenue, o.attribution_window_days,
       to_jsonb(s) AS settings,
       (SELECT to_jsonb(g) FROM offer_goals g WHERE g.offer_id = o.id AND g.code = $2) AS goal,
       (SELECT coalesce(jsonb_agg(p), '[]') FROM payout_overrides p
         WHERE p.offer_id = o.id AND p.affiliate_id = $3) AS overrides,
       (SELECT coalesce(jsonb_agg(t), '[]') FROM payout_tiers t WHERE t.offer_id = o.id) AS tiers,
       (SELECT coalesce(jsonb_agg(r), '[]') FROM revenue_rules r
         WHERE r.offer_id = o.id AND (r.affiliate_id IS NULL OR r.affiliate_id = $3)) AS revenue,
       (SELECT coalesce(jsonb_agg(c), '[]') FROM conversion_caps c
         WHERE c.offer_id = o.id AND c.archived_at IS NULL) AS caps,
       (SELECT coalesce(jsonb_agg(t), '[]') FROM offer_price_terms t
         WHERE t.offer_id = o.id AND (t.goal IS NULL OR t.goal = $2)) AS terms
  FROM offers o LEFT JOIN offer_conversion_settings s ON s.offer_id = o.id
 WHERE o.id = $1
"""


@dataclass(frozen=True)
class Goal:
    code: str
    multiple: bool
    max_count: int | None
    max_months: int | None
    payout: Rule
    revenue: Rule


@dataclass
class OfferRules:
    offer_id: int
    currency: str
    default_payout: Rule
    default_revenue: Rule
    window_days: int
    timezone: str = "UTC"
    cap_action: str = "reject"
    goal: Goal | None = None
    overrides: list[Override] = field(default_factory=list)
    tiers: list[Tier] = field(default_factory=list)
    revenue_rules: list[RevenueRule] = field(default_factory=list)
    caps: list[Cap] = field(default_factory=list)
    fraud: FraudSettings = field(default_factory=FraudSettings)
    browser_origins: frozenset[str] = frozenset()  # issue 18: sites that may send conversions
    default_terms: list[PriceTerms] = field(default_factory=list)  # dated (migration 0021)
    goal_terms: list[PriceTerms] = field(default_factory=list)

    def money_at(self, at: datetime) -> Money:
        """The offer's currency and default prices, and the goal's prices, in force at
        ``at``; the offer's and the goal's own values where no dated terms exist."""
        d = terms_at(self.default_terms, at)
        g = terms_at(self.goal_terms, at)
        goal = self.goal
        return Money(
            d.currency if d is not None and d.currency else self.currency,
            d.payout if d is not None else self.default_payout,
            d.revenue if d is not None else self.default_revenue,
            g.payout if g is not None else goal.payout if goal is not None else None,
            g.revenue if g is not None else goal.revenue if goal is not None else None,
            [t.id for t in (d, g) if t is not None],
        )


@dataclass(frozen=True)
class Money:
    currency: str
    default_payout: Rule
    default_revenue: Rule
    goal_payout: Rule | None
    goal_revenue: Rule | None
    terms: list[int]  # ids of the dated terms used


def _dec(v: Any) -> Decimal:
    return Decimal(str(v)) if v is not None else Decimal(0)


def _ts(v: Any) -> datetime | None:
    return datetime.fromisoformat(v) if v and v != "-infinity" else None


def _load(v: Any) -> Any:
    return json.loads(v, parse_float=Decimal) if isinstance(v, str) else v


async def load(conn: asyncpg.Connection, offer_id: int, goal: str, affiliate_id: int) -> OfferRules:
    row = await conn.fetchrow(_RULES, offer_id, goal, affiliate_id)
    s = _load(row["settings"]) or {}
    g = _load(row["goal"])
    rules = OfferRules(
        offer_id=offer_id,
        currency=row["currency"].strip(),
        default_payout=Rule(row["default_payout"]),
        default_revenue=Rule(row["default_revenue"]),
        window_days=row["attribution_window_days"],
        timezone=s.get("timezone", "UTC"),
        cap_action=s.get("cap_action", "reject"),
        browser_origins=frozenset(s.get("browser_origins") or ()),
    )
    if g:
        rules.goal = Goal(
            g["code"], g["multiple"], g["max_count"], g["max_months"],
            Rule(_dec(g["payout_flat"]), _dec(g["payout_percent"])),
            Rule(_dec(g["revenue_flat"]), _dec(g["revenue_percent"])),
        )  # fmt: skip
    rules.overrides = [
        Override(
            p["id"],
            p["goal"],
            _ts(p["valid_from"]),
            _ts(p["valid_to"]),
            Rule(_dec(p["payout_flat"]), _dec(p["payout_percent"])),
        )
        for p in _load(row["overrides"])
    ]
    rules.tiers = [
        Tier(
            t["id"],
            t["goal"],
            t["metric"],
            _dec(t["threshold"]),
            Rule(_dec(t["payout_flat"]), _dec(t["payout_percent"])),
            _ts(t.get("valid_from")),
            _ts(t.get("valid_to")),
        )
        for t in _load(row["tiers"])
    ]
    rules.revenue_rules = [
        RevenueRule(
            r["id"],
            r["affiliate_id"],
            r["goal"],
            _ts(r["valid_from"]),
            _ts(r["valid_to"]),
            Rule(_dec(r["revenue_flat"]), _dec(r["revenue_percent"])),
        )
        for r in _load(row["revenue"])
    ]
    rules.caps = [
        Cap(c["id"], c["affiliate_id"], c["period"], c["metric"], _dec(c["cap_limit"]))
        for c in _load(row["caps"])
    ]
    for t in _load(row["terms"]):
        terms = PriceTerms(
            t["id"], _ts(t["valid_from"]),
            Rule(_dec(t["payout_flat"]), _dec(t["payout_percent"])),
            Rule(_dec(t["revenue_flat"]), _dec(t["revenue_percent"])),
            t["currency"].strip() if t["currency"] else None,
        )  # fmt: skip
        (rules.default_terms if t["goal"] is None else rules.goal_terms).append(terms)
    if s:
        rules.fraud = FraudSettings(
            mode=s["fraud_mode"], min_click_seconds=s["min_click_seconds"],
            max_click_seconds=s["max_click_seconds"], require_click=s["require_click"],
            duplicate_txn=s["duplicate_txn"], max_conversions_per_ip=s["max_conversions_per_ip"],
            max_clicks_per_sub_hour=s["max_clicks_per_sub_hour"],
        )  # fmt: skip
    return rules


class RulesCache:
    """Rules per (offer, goal, partner) for a short time: one query fewer per conversion.
    A rule changed through the API reaches the worker within ``ttl_s``."""

    def __init__(self, ttl_s: float) -> None:
        self._ttl = ttl_s
        self._items: dict[tuple[int, str, int], tuple[float, OfferRules]] = {}

    async def get(
        self, conn: asyncpg.Connection, offer_id: int, goal: str, affiliate_id: int
    ) -> OfferRules:
        key = (offer_id, goal, affiliate_id)
        now = time.monotonic()
        hit = self._items.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        rules = await load(conn, offer_id, goal, affiliate_id)
        if len(self._items) > 10_000:
            self._items.clear()
        self._items[key] = (now + self._ttl, rules)
        return rules


async def rate(conn: asyncpg.Connection, base: str, quote: str, at: datetime) -> Decimal | None:
    value: Decimal | None = await conn.fetchval(
        "SELECT rate FROM currency_rates WHERE base = $1 AND quote = $2 AND valid_from <= $3"
        " ORDER BY valid_from DESC LIMIT 1",
        base, quote, at,
    )  # fmt: skip
    return value
