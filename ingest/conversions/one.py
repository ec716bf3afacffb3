"""One postback, in the batch's transaction: lock → (new) attribute → gates → price →
screen → store, or (known) the merchant's change through the same path.

The steps live in ``tracker/store`` (``conversion_path``, ``conversion_gates``,
``conversion_changes``), shared with the API's status changes, overrides and the
re-pricing of a rate that arrives; this module is the flow (docs/adr/0080, 0081).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg

from schemas.events import ConversionEvent
from tracker.domain.attribution import attribute
from tracker.domain.conversion_status import postback_may_move
from tracker.store import conversion_facts as facts
from tracker.store import conversion_gates as gates
from tracker.store import conversion_rows as rows
from tracker.store import offer_rules
from tracker.store.conversion_changes import Amendment, change
from tracker.store.conversion_path import Draft, finish, insert, price_draft, screen

WAIT = "wait"  # the click may still be on its way: try again later

MayWait = Callable[[datetime], Awaitable[bool]]


async def process(
    conn: asyncpg.Connection, ev: ConversionEvent, may_wait: MayWait, cache: offer_rules.RulesCache
) -> str:
    """The status of the conversion inserted, "" when none was, WAIT to try again later."""
    existing = await rows.lock(conn, ev.conversion_id)
    if existing is not None:
        await _merchant_change(conn, existing, ev, cache)
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
    d = Draft(
        conversion_id=ev.conversion_id, advertiser_id=ev.advertiser_id, goal=ev.goal,
        txn_id=ev.txn_id, created_at=at, merchant_status=ev.status, merchant_at=ev.ts,
        amount=Decimal(ev.amount), currency=ev.currency, offer_id=att.offer_id,
        affiliate_id=att.affiliate_id, decision={"attribution": att.record, "goal": ev.goal},
        click_id=click["click_id"] if click is not None else None,
        click_at=click["created_at"] if click is not None else None, method=att.method,
        coupon=att.code.code if att.code else (ev.coupon or None), adv_subs=ev.adv_subs or None,
        ip_key=facts.ip_key(click), click_class=click["click_class"] if click is not None else "",
        country=click["country"] if click is not None else "",
        device=click["device"] if click is not None else "",
    )  # fmt: skip
    if ev.via == "browser":
        d.decision["browser"] = {"origin": ev.origin, "user_agent": ev.user_agent}
    rules = None
    if att.offer_id is None or att.affiliate_id is None:
        d.gate = att.reason or "no_click"
    else:
        rules = await cache.get(conn, att.offer_id, ev.goal, att.affiliate_id)
        d.decision.update(offer_id=att.offer_id, affiliate_id=att.affiliate_id)
        if ev.currency_default:
            d.currency = rules.money_at(at).currency
        if code is not None and att.code is not None:
            c = code[1]
            if c["payout_flat"] is not None or c["payout_percent"] is not None:
                d.decision["promo_rule"] = {"flat": str(c["payout_flat"] or 0),
                                            "percent": str(c["payout_percent"] or 0)}  # fmt: skip
        d.gate = gates.origin_problem(rules, ev.via, ev.origin) or await gates.goal_problem(
            conn, rules.goal, ev.goal, click, at
        )
        if d.gate is None:  # a goal rule's rejection is priced only if an admin overrides it
            await price_draft(conn, rules, d)
        verdict = await gates.fraud(conn, rules, ev.advertiser_id, ev.txn_id, ev.goal, click, at)
        d.decision["fraud"] = {"mode": rules.fraud.mode, "checks": verdict.checks}
        if d.gate is None and verdict.rejected_by:
            d.gate = f"fraud:{verdict.rejected_by}"
    await screen(conn, rules, d, [], None)
    finish(d, None)
    stored = await insert(conn, d, ev.via)
    return str(stored["status"]) if stored is not None else ""


async def _merchant_change(
    conn: asyncpg.Connection, row: Any, ev: ConversionEvent, cache: offer_rules.RulesCache
) -> None:
    """A postback for a known conversion: a status that moves the merchant's status forward,
    and/or a new amount (an amendment). Older than what was applied, a pixel, a repeat or a
    replay of an earlier postback: nothing."""
    if ev.via != "postback":
        return  # pixels and browser conversions come from browsers: they never change one
    d = Draft.of_row(row)
    if ev.ts <= d.merchant_at:
        return
    status = ev.status if postback_may_move(d.merchant_status, ev.status) else None
    amendment = await _amendment(conn, row, ev)
    if status is None and amendment is None:
        return
    rules = None
    if d.attributed:
        assert d.offer_id is not None and d.affiliate_id is not None
        rules = await cache.get(conn, d.offer_id, d.goal, d.affiliate_id)
    await change(conn, row, rules, merchant=status, merchant_at=ev.ts, at=ev.ts, actor=ev.via,
                 why=f"{ev.via}: status={ev.status}", amendment=amendment)  # fmt: skip


async def _amendment(conn: asyncpg.Connection, row: Any, ev: ConversionEvent) -> Amendment | None:
    """A new amount for the transaction (a partial refund, an upsell): the postback carries an
    amount that differs from the stored one and that the conversion never had before (an
    earlier amount sent again is a replay)."""
    if not ev.amount_given:
        return None
    amount = Decimal(ev.amount)
    currency = None if ev.currency_default else ev.currency
    if currency is not None and currency != row["currency"].strip():
        return Amendment(amount, currency)
    if amount == row["amount"] or amount in await rows.amounts_seen(conn, row["conversion_id"]):
        return None
    return Amendment(amount, None)
