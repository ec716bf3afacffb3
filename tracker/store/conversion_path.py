"""The one conversion path: price → screen → store, the same steps for a new conversion, a
merchant's status change (postback or API), an amendment, an admin override and a
currency rate that arrives (docs/adr/0080, 0081).

A ``Draft`` is a conversion being decided, made from the attribution of a new one or from
its locked row. ``price`` sets its payout and revenue from the rules in force at the
conversion's time; ``screen`` settles its status (merchant status, standing gate, rate,
caps: ``tracker.domain.conversion_status``) and moves its cap usage; ``store`` inserts or
updates the row (``tracker.store.conversion_rows``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from tracker.domain import caps as capdom
from tracker.domain.conversion_status import COUNTED, after_caps, settle
from tracker.domain.payouts import MonthToDate, Rule, convert, price
from tracker.store import caps as capstore
from tracker.store import conversion_facts as facts
from tracker.store import conversion_rows as rows
from tracker.store import offer_rules
from tracker.store.offer_rules import OfferRules


@dataclass
class Draft:
    conversion_id: UUID
    advertiser_id: int
    goal: str
    txn_id: str
    created_at: datetime
    merchant_status: str
    merchant_at: datetime
    amount: Decimal
    currency: str  # as the merchant sent it (the offer's when none was sent)
    offer_id: int | None = None
    affiliate_id: int | None = None
    gate: str | None = None
    decision: dict[str, Any] = field(default_factory=dict)
    offer_currency: str | None = None
    amount_converted: Decimal | None = None
    revenue: Decimal = Decimal(0)
    payout: Decimal = Decimal(0)
    caps_used: list[list[Any]] = field(default_factory=list)
    status: str = "pending"
    status_reason: str | None = None
    # set on new conversions only (the row keeps them as they were)
    click_id: UUID | None = None
    click_at: datetime | None = None
    method: str | None = None
    coupon: str | None = None
    adv_subs: list[str | None] | None = None
    ip_key: str | None = None
    click_class: str = ""
    country: str = ""
    device: str = ""

    @classmethod
    def of_row(cls, row: Any) -> Draft:
        names = cls.__dataclass_fields__
        values = {k: row[k] for k in names if k in row.keys()}
        values["decision"] = rows.loads(row["decision"]) or {}
        values["caps_used"] = rows.loads(row["caps_used"]) or []
        values["currency"] = row["currency"].strip()
        if row["offer_currency"] is not None:
            values["offer_currency"] = row["offer_currency"].strip()
        # rows stored before migration 0020 written by other means: the status is the merchant's
        values["merchant_status"] = row["merchant_status"] or (
            row["status"] if row["status"] != "held" else "pending")  # fmt: skip
        values["merchant_at"] = row["merchant_at"] or row["status_at"] or row["created_at"]
        return cls(**values)

    @property
    def attributed(self) -> bool:
        return self.offer_id is not None and self.affiliate_id is not None

    @property
    def priced(self) -> bool:
        """False while its currency has no rate at its time (``no_rate``): nothing is known
        of its money, so it is never counted (held) until priced."""
        cur = self.decision.get("currency")
        return not (isinstance(cur, dict) and cur.get("rate", "") is None)

    def values(self) -> dict[str, Any]:
        return asdict(self)


async def price_draft(conn: asyncpg.Connection, rules: OfferRules, d: Draft) -> bool:
    """Payout and revenue with the rules in force at the conversion's time: dated terms,
    overrides, tiers (month to date before it), revenue rules, goal prices, the currency
    rate at its time. False when that rate is missing (the money stays unknown)."""
    at = d.created_at
    money = rules.money_at(at)
    d.offer_currency = money.currency
    rate = (
        Decimal(1)
        if d.currency == money.currency
        else await offer_rules.rate(conn, d.currency, money.currency, at)
    )
    d.decision["currency"] = {"amount": str(d.amount), "from": d.currency, "to": money.currency,
                              "rate": str(rate) if rate is not None else None}  # fmt: skip
    if rate is None:
        d.amount_converted, d.payout, d.revenue = None, Decimal(0), Decimal(0)
        for k in ("payout", "revenue", "payout_rule", "revenue_rule", "month_to_date"):
            d.decision.pop(k, None)
        return False
    converted = convert(d.amount, rate)
    d.amount_converted = converted
    d.decision["currency"]["converted"] = str(converted)
    promo_terms = d.decision.get("promo_rule")
    promo = (
        Rule(Decimal(promo_terms["flat"]), Decimal(promo_terms["percent"])) if promo_terms else None
    )
    month: MonthToDate | None = None
    assert d.affiliate_id is not None
    if rules.tiers:
        start, end = capdom.month_bounds(at, rules.timezone)
        n, total, rev = await facts.month_to_date(
            conn, rules.offer_id, d.affiliate_id, start, end, before=(at, d.conversion_id)
        )
        month = MonthToDate(n, total, rev)
        d.decision["month_to_date"] = {"approved": n, "amount": str(total), "revenue": str(rev),
                                       "tz": rules.timezone}  # fmt: skip
    priced = price(
        d.goal, at, converted, money.goal_payout, money.goal_revenue, money.default_payout,
        money.default_revenue, promo, rules.overrides, rules.tiers, month, rules.revenue_rules,
        d.affiliate_id,
    )  # fmt: skip
    d.payout, d.revenue = priced.payout, priced.revenue
    d.decision.update(payout_rule=priced.payout_rule, revenue_rule=priced.revenue_rule,
                      payout=str(priced.payout), revenue=str(priced.revenue))  # fmt: skip
    if money.terms:
        d.decision["price_terms"] = money.terms
    return True


async def screen(
    conn: asyncpg.Connection, rules: OfferRules | None, d: Draft, held_before: list[list[Any]],
    payout_before: Decimal | None,
) -> None:  # fmt: skip
    """Settle the status (docs/adr/0080) and move the cap usage with it. ``held_before``:
    the usage the conversion holds now; ``payout_before``: its payout while counted (None
    when it was not counted). A conversion that stays counted without a higher payout keeps
    its usage (lowered with its payout); one that enters a counted status, or whose payout
    grows, reserves again with every limit checked: a cap is never overshot."""
    s = settle(d.merchant_status, d.gate, d.priced)
    if not s.wants_caps or rules is None or d.affiliate_id is None:
        await capstore.give_back(conn, held_before)
        d.caps_used = []
        d.status, d.status_reason = s.status, s.reason
        if s.wants_caps:  # nothing to cap (not attributed: a gate holds it anyway)
            d.status, d.status_reason = d.merchant_status, None
        return
    if payout_before is not None and d.payout <= payout_before:
        d.caps_used = await capstore.lower(conn, held_before, rules.caps, d.payout)
        d.status, d.status_reason = d.merchant_status, None
        return
    await capstore.give_back(conn, held_before)
    applicable = capdom.applicable(rules.caps, d.affiliate_id)
    taken: list[list[object]] | None = []
    if applicable:
        taken, report = await capstore.try_reserve(
            conn, applicable, d.created_at, rules.timezone, d.payout
        )
        d.decision["caps"] = report
    d.caps_used = list(taken or [])
    d.status, d.status_reason = after_caps(d.merchant_status, taken is not None, rules.cap_action)


def finish(d: Draft, merchant_reason: str | None) -> None:
    """The reason of a merchant's status is the change that set it; the tracker's, its own."""
    if d.status_reason is None and d.status == d.merchant_status:
        d.status_reason = merchant_reason
    d.decision.update(status=d.status, reason=d.status_reason, gate=d.gate,
                      merchant_status=d.merchant_status)  # fmt: skip


async def insert(conn: asyncpg.Connection, d: Draft, actor: str) -> Any:
    return await rows.insert(conn, d.values(), actor)


async def update(
    conn: asyncpg.Connection, before: Any, d: Draft, *, actor: str, at: datetime,
    note: str | None = None,
) -> Any:  # fmt: skip
    return await rows.update(conn, before, d.values(), actor=actor, at=at, note=note)


def counted_payout(row: Any) -> Decimal | None:
    return Decimal(row["payout"]) if row["status"] in COUNTED else None
