"""One conversion, in one transaction: attribute, price, screen, cap, store, roll up.

Every step adds to the decision record stored with the row, so the API can
say why the conversion went to this partner at this price with this status.
A postback for a conversion already stored is a status change (newest wins)
or nothing at all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import orjson

from schemas.events import ConversionEvent
from tracker.domain import caps as capdom
from tracker.domain.attribution import attribute
from tracker.domain.fraud import Facts, judge
from tracker.domain.payouts import MonthToDate, Rule, convert, price
from tracker.store import caps as capstore
from tracker.store import conversion_facts as facts
from tracker.store import conversions as store
from tracker.store import offer_rules, outbox
from tracker.store.reports import rollups

WAIT = "wait"  # the click may still be on its way: try again later

# The row, its first history entry and its rollup in one round trip.
_INSERT = (
    """
WITH ins AS (
    INSERT INTO conversions (conversion_id, advertiser_id, goal, txn_id, click_id, click_at, offer_id,
        affiliate_id, status, status_reason, amount, currency, revenue, payout, decision, created_at,
        method, coupon, adv_subs, offer_currency, amount_converted, ip_key, click_class, country,
        device, caps_used, status_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
            $20, $21, $22, $23, $24, $25, $26, $16)
    ON CONFLICT DO NOTHING
    RETURNING *
), hist AS (
    INSERT INTO conversion_status_history (conversion_id, from_status, to_status, reason, actor, at)
    SELECT conversion_id, NULL, status, status_reason, $27, created_at FROM ins
), spans AS ("""
    + rollups.conversions_cte("ins")
    + """
)
SELECT count(*) FROM ins
"""
)

MayWait = Callable[[datetime], Awaitable[bool]]


def _months_later(t: datetime, months: int) -> datetime:
    m = t.month - 1 + months
    year, month = t.year + m // 12, m % 12 + 1
    day = min(t.day, [31, 29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28,
                      31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1])  # fmt: skip
    return t.replace(year=year, month=month, day=day)


async def process(
    conn: asyncpg.Connection, ev: ConversionEvent, may_wait: MayWait, cache: offer_rules.RulesCache
) -> str:
    """The status of the conversion inserted, "" when none was, WAIT to try again later."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 5))", str(ev.conversion_id)
    )
    existing = await store.lock(conn, ev.conversion_id)
    if existing is not None:
        if _merchant_may_change(existing, ev):
            await store.change_status(conn, existing, ev.status, actor=ev.via, at=ev.ts,
                                      reason=f"{ev.via}: status={ev.status}")  # fmt: skip
        return ""
    at = ev.ts.astimezone(UTC)
    click: Any = None
    problem: str | None = None
    if ev.click_id is not None:
        click = await facts.find_click(conn, ev.click_id)
        if click is None:
            born = facts.click_time(ev.click_id)
            if born is not None and await may_wait(born):
                return WAIT
            problem = "click_not_found"
        elif click["advertiser_id"] != ev.advertiser_id:
            click, problem = None, "other_advertiser"  # never attribute across tenants
        elif click["model"] == "first_click":
            click = await facts.first_click(conn, click, at)
    code = await facts.find_code(conn, ev.coupon, ev.advertiser_id, at) if ev.coupon else None
    att = attribute(at, facts.click_facts(click) if click is not None else None, problem,
                    code[0] if code else None, ev.via)  # fmt: skip
    if att.click is None:
        click = None
    if click is not None:
        att.record["model"] = click["model"]
    decision: dict[str, Any] = {"attribution": att.record, "goal": ev.goal}
    if ev.via == "browser":
        decision["browser"] = {"origin": ev.origin, "user_agent": ev.user_agent}
    amount = Decimal(ev.amount)
    status, reason = ev.status, att.reason if att.offer_id is None else None
    payout = revenue = Decimal(0)
    converted: Decimal | None = None
    currency_out: str | None = None
    currency_in = ev.currency
    caps_used: list[list[object]] = []
    if att.offer_id is None or att.affiliate_id is None:
        status = "rejected"
    else:
        rules = await cache.get(conn, att.offer_id, ev.goal, att.affiliate_id)
        currency_out = rules.currency
        decision.update(offer_id=att.offer_id, affiliate_id=att.affiliate_id)
        goal_problem = _origin_problem(rules, ev) or await _goal_problem(
            conn, rules.goal, ev, click, at
        )
        cur = currency_in = rules.currency if ev.currency_default else ev.currency
        rate = (
            Decimal(1)
            if cur == rules.currency
            else await offer_rules.rate(conn, cur, rules.currency, at)
        )
        decision["currency"] = {"amount": str(amount), "from": cur, "to": rules.currency,
                                "rate": str(rate) if rate is not None else None}  # fmt: skip
        if goal_problem:
            status, reason = "rejected", goal_problem
        elif rate is None:
            reason = "no_rate"
            status = "pending" if status == "approved" else status
        else:
            converted = convert(amount, rate)
            decision["currency"]["converted"] = str(converted)
            payout, revenue = await _price(conn, rules, ev, att, code, converted, at, decision)
        verdict = judge(rules.fraud, await _fraud_facts(conn, rules, ev, click, at))
        decision["fraud"] = {"mode": rules.fraud.mode, "checks": verdict.checks}
        if verdict.rejected_by and status in store.COUNTED:
            status, reason = "rejected", f"fraud:{verdict.rejected_by}"
        applicable = capdom.applicable(rules.caps, att.affiliate_id)
        if applicable and status in store.COUNTED:
            taken, report = await capstore.try_reserve(conn, applicable, at, rules.timezone, payout)
            decision["caps"] = report
            if taken is None:
                status, reason = ("pending" if rules.cap_action == "pending" else "rejected"), "cap"
            else:
                caps_used = taken
    decision.update(status=status, reason=reason)
    row = {"created_at": at, "offer_id": att.offer_id, "affiliate_id": att.affiliate_id,
           "click_class": click["click_class"] if click is not None else "",
           "country": click["country"] if click is not None else "",
           "device": click["device"] if click is not None else "",
           "revenue": revenue, "payout": payout}  # fmt: skip
    cid = await conn.fetchval(
        _INSERT, ev.conversion_id, ev.advertiser_id, ev.goal, ev.txn_id,
        click["click_id"] if click is not None else None,
        click["created_at"] if click is not None else None, att.offer_id, att.affiliate_id,
        status, reason, amount, currency_in, revenue, payout,
        orjson.dumps(decision, default=str).decode(), at, att.method,
        att.code.code if att.code else (ev.coupon or None), ev.adv_subs or None, currency_out,
        converted, facts.ip_key(click), row["click_class"], row["country"], row["device"],
        orjson.dumps(caps_used).decode(), ev.via,
    )  # fmt: skip
    if cid and att.affiliate_id is not None:
        # The partner's postbacks, in this same transaction (the outbox).
        stored = await conn.fetchrow(
            "SELECT * FROM conversions WHERE conversion_id = $1", ev.conversion_id
        )
        for event in ("created", "approved") if status == "approved" else ("created",):
            await outbox.announce(conn, stored, event)
    return status if cid else ""


def _merchant_may_change(existing: Any, ev: ConversionEvent) -> bool:
    """A later postback with another status changes it; a replay of the postback that made
    it (same time) does not. Pixels come from browsers: they never change a conversion.
    What we held or rejected ourselves (cap, fraud, no rate, no click) a merchant may
    reject or reverse, but only the API can approve."""
    if ev.via != "postback" or ev.status == existing["status"]:
        return False
    if existing["status_at"] is not None and ev.ts <= existing["status_at"]:
        return False
    reason = existing["status_reason"]
    ours = reason is not None and not reason.startswith(("postback", "pixel", "api"))
    return not (ours and ev.status in store.COUNTED)


def _origin_problem(rules: offer_rules.OfferRules, ev: ConversionEvent) -> str | None:
    """A browser conversion counts only for an offer that lists the site it came from
    (the API checked the offer its snippet names; this checks the one attributed)."""
    if ev.via == "browser" and ev.origin not in rules.browser_origins:
        return "origin_not_allowed"
    return None


async def _goal_problem(
    conn: asyncpg.Connection, goal: offer_rules.Goal | None, ev: ConversionEvent, click: Any,
    at: datetime,
) -> str | None:  # fmt: skip
    if goal is None:
        return None if ev.goal == "default" else "unknown_goal"
    if click is None:
        return None  # without a click there is no "per click" to count
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 6))", str(click["click_id"])
    )
    n, first = await facts.goal_history(conn, click["click_id"], ev.goal)
    if n and not goal.multiple:
        return "duplicate_goal"
    if goal.max_count is not None and n >= goal.max_count:
        return "recurring_limit"
    if goal.max_months is not None and first is not None:
        if at >= _months_later(first, goal.max_months):
            return "recurring_limit"
    return None


async def _price(
    conn: asyncpg.Connection, rules: offer_rules.OfferRules, ev: ConversionEvent, att: Any,
    code: Any, converted: Decimal, at: datetime, decision: dict[str, Any],
) -> tuple[Decimal, Decimal]:  # fmt: skip
    promo: Rule | None = None
    if code is not None and att.code is not None:
        c = code[1]
        if c["payout_flat"] is not None or c["payout_percent"] is not None:
            promo = Rule(c["payout_flat"] or Decimal(0), c["payout_percent"] or Decimal(0))
    month: MonthToDate | None = None
    if rules.tiers:
        start, end = capdom.month_bounds(at, rules.timezone)
        n, total, rev = await facts.month_to_date(
            conn, rules.offer_id, att.affiliate_id, start, end
        )
        month = MonthToDate(n, total, rev)
        decision["month_to_date"] = {"approved": n, "amount": str(total), "revenue": str(rev),
                                     "tz": rules.timezone}  # fmt: skip
    goal = rules.goal
    priced = price(
        ev.goal, at, converted,
        goal.payout if goal else None, goal.revenue if goal else None,
        rules.default_payout, rules.default_revenue,
        promo, rules.overrides, rules.tiers, month, rules.revenue_rules, att.affiliate_id,
    )  # fmt: skip
    decision.update(payout_rule=priced.payout_rule, revenue_rule=priced.revenue_rule,
                    payout=str(priced.payout), revenue=str(priced.revenue))  # fmt: skip
    return priced.payout, priced.revenue


async def _fraud_facts(
    conn: asyncpg.Connection, rules: offer_rules.OfferRules, ev: ConversionEvent, click: Any,
    at: datetime,
) -> Facts:  # fmt: skip
    s = rules.fraud
    ctc = (at - click["created_at"]).total_seconds() if click is not None else None
    seen = s.duplicate_txn and await facts.txn_seen(conn, ev.advertiser_id, ev.txn_id, ev.goal)
    key = facts.ip_key(click)
    from_ip = None
    if s.max_conversions_per_ip is not None and key is not None:
        from_ip = await facts.conversions_from_ip(conn, rules.offer_id, key, at)
    flood = None
    if s.max_clicks_per_sub_hour is not None and click is not None and click["sub1"]:
        flood = await facts.clicks_on_sub(conn, click)
    return Facts(ctc, bool(seen), from_ip, flood)
