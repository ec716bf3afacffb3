"""Payout and revenue of one conversion (pure, Decimal only).

A rule is a flat amount (CPA), a percentage of the sale (revenue share), or
both. Which payout rule applies, first match wins:

1. the promo code's own payout, when the conversion came through that code
   (or its partner and offer) and the code sets one;
2. a partner override valid at the conversion time (goal-specific first);
3. the highest monthly tier valid at the conversion time that the partner has
   reached (approved conversions or sale amount this month, counted *before*
   this conversion);
4. the goal's payout; 5. the offer's default payout (goal ``default`` only).

Revenue (what the advertiser pays) comes from the most specific revenue rule valid
at the conversion time (one partner before every partner, then one goal before
every goal, then the newest), else the goal's revenue, else the offer default.
Amounts are rounded half-up to the cent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Rule:
    flat: Decimal = Decimal(0)
    percent: Decimal = Decimal(0)

    @property
    def kind(self) -> str:
        if self.flat and self.percent:
            return "cpa+revshare"
        return "revshare" if self.percent else "cpa"

    def amount(self, sale: Decimal) -> Decimal:
        return (self.flat + sale * self.percent / HUNDRED).quantize(CENT, ROUND_HALF_UP)


@dataclass(frozen=True)
class Override:
    id: int
    goal: str | None
    valid_from: datetime | None
    valid_to: datetime | None
    rule: Rule

    def valid_at(self, at: datetime, goal: str) -> bool:
        return (
            (self.goal is None or self.goal == goal)
            and (self.valid_from is None or self.valid_from <= at)
            and (self.valid_to is None or at < self.valid_to)
        )


@dataclass(frozen=True)
class RevenueRule:
    """What the advertiser pays, from ``valid_from`` until ``valid_to``; for one partner
    (``affiliate_id``) or every partner (None), one goal or every goal (None)."""

    id: int
    affiliate_id: int | None
    goal: str | None
    valid_from: datetime | None
    valid_to: datetime | None
    rule: Rule

    def valid_at(self, at: datetime, goal: str, affiliate_id: int) -> bool:
        return (
            (self.affiliate_id is None or self.affiliate_id == affiliate_id)
            and (self.goal is None or self.goal == goal)
            and (self.valid_from is None or self.valid_from <= at)
            and (self.valid_to is None or at < self.valid_to)
        )


def choose_revenue(goal: str, at: datetime, affiliate_id: int, goal_rule: Rule | None,
                   offer_default: Rule, rules: list[RevenueRule]) -> tuple[Rule, str]:  # fmt: skip
    valid = [r for r in rules if r.valid_at(at, goal, affiliate_id)]
    if valid:
        best = max(valid, key=lambda r: (r.affiliate_id is not None, r.goal is not None, r.id))
        return best.rule, f"revenue_rule:{best.id}"
    if goal_rule is not None:
        return goal_rule, f"goal:{goal}"
    return offer_default, "offer_default"


@dataclass(frozen=True)
class Tier:
    id: int
    goal: str | None
    metric: str  # "conversions", "amount" (sales) or "revenue" (what the advertiser pays)
    threshold: Decimal
    rule: Rule
    valid_from: datetime | None = None
    valid_to: datetime | None = None

    def valid_at(self, at: datetime, goal: str) -> bool:
        return (
            (self.goal is None or self.goal == goal)
            and (self.valid_from is None or self.valid_from <= at)
            and (self.valid_to is None or at < self.valid_to)
        )


@dataclass(frozen=True)
class MonthToDate:
    """The partner's approved conversions on the offer this month, before this one."""

    conversions: int
    amount: Decimal
    revenue: Decimal = Decimal(0)

    def value(self, metric: str) -> Decimal:
        if metric == "conversions":
            return Decimal(self.conversions)
        return self.amount if metric == "amount" else self.revenue


@dataclass(frozen=True)
class Priced:
    payout: Decimal
    revenue: Decimal
    payout_rule: str
    revenue_rule: str


def choose_payout(
    goal: str,
    at: datetime,
    goal_rule: Rule | None,
    offer_default: Rule,
    promo_rule: Rule | None,
    overrides: list[Override],
    tiers: list[Tier],
    month: MonthToDate | None,
) -> tuple[Rule, str]:
    if promo_rule is not None:
        return promo_rule, "promo_code"
    valid = [o for o in overrides if o.valid_at(at, goal)]
    if valid:
        # A goal-specific override beats an all-goals one; then the newest.
        best = max(valid, key=lambda o: (o.goal is not None, o.id))
        return best.rule, f"override:{best.id}"
    if month is not None:
        reached = [
            t for t in tiers if t.valid_at(at, goal) and month.value(t.metric) >= t.threshold
        ]
        if reached:
            top = max(reached, key=lambda t: (t.threshold, t.id))
            return top.rule, f"tier:{top.id}"
    if goal_rule is not None:
        return goal_rule, f"goal:{goal}"
    return offer_default, "offer_default"


def price(
    goal: str,
    at: datetime,
    sale: Decimal,
    goal_payout: Rule | None,
    goal_revenue: Rule | None,
    offer_payout: Rule,
    offer_revenue: Rule,
    promo_rule: Rule | None = None,
    overrides: list[Override] | None = None,
    tiers: list[Tier] | None = None,
    month: MonthToDate | None = None,
    revenue_rules: list[RevenueRule] | None = None,
    affiliate_id: int = 0,
) -> Priced:
    rule, name = choose_payout(
        goal, at, goal_payout, offer_payout, promo_rule, overrides or [], tiers or [], month
    )
    rev_rule, rev_name = choose_revenue(
        goal, at, affiliate_id, goal_revenue, offer_revenue, revenue_rules or []
    )
    return Priced(rule.amount(sale), rev_rule.amount(sale), f"{name} ({rule.kind})",
                  f"{rev_name} ({rev_rule.kind})")  # fmt: skip


@dataclass(frozen=True)
class PriceTerms:
    """An offer's default payout, revenue and currency (``currency`` set), or a goal's
    prices (``currency`` None), from ``valid_from`` on (None: always) until the next terms
    (docs/adr/0081)."""

    id: int
    valid_from: datetime | None
    payout: Rule
    revenue: Rule
    currency: str | None = None


def terms_at(terms: list[PriceTerms], at: datetime) -> PriceTerms | None:
    """The terms in force at ``at``: the latest that started at or before it."""
    valid = [t for t in terms if t.valid_from is None or t.valid_from <= at]
    if not valid:
        return None
    return max(valid, key=lambda t: (t.valid_from is not None, t.valid_from or at, t.id))


def convert(amount: Decimal, rate: Decimal) -> Decimal:
    """An amount in the offer's currency, kept to 4 decimal places."""
    return (amount * rate).quantize(Decimal("0.0001"), ROUND_HALF_UP)
