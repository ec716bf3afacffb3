"""The tracker's standing verdicts on a new conversion: goal rules and fraud rules.

Decided once, when the conversion is first stored, whatever status the merchant sent
(a conversion first sent as ``rejected`` is screened too, so approving it later cannot
skip a rule); the verdict is kept as the row's ``gate`` (docs/adr/0080).
"""

from __future__ import annotations

import calendar
from datetime import datetime
from typing import Any

import asyncpg

from tracker.domain.fraud import Facts, Verdict, judge
from tracker.store import conversion_facts as facts
from tracker.store.offer_rules import Goal, OfferRules


def months_later(t: datetime, months: int) -> datetime:
    m = t.month - 1 + months
    year, month = t.year + m // 12, m % 12 + 1
    return t.replace(year=year, month=month, day=min(t.day, calendar.monthrange(year, month)[1]))


def origin_problem(rules: OfferRules, via: str, origin: str | None) -> str | None:
    """A browser conversion counts only for an offer that lists the site it came from
    (the API checked the offer its snippet names; this checks the one attributed)."""
    if via == "browser" and origin not in rules.browser_origins:
        return "origin_not_allowed"
    return None


async def goal_problem(
    conn: asyncpg.Connection, goal: Goal | None, code: str, click: Any, at: datetime
) -> str | None:
    if goal is None:
        return None if code == "default" else "unknown_goal"
    if click is None:
        return None  # without a click there is no "per click" to count
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 6))", str(click["click_id"])
    )
    n, first = await facts.goal_history(conn, click["click_id"], code)
    if n and not goal.multiple:
        return "duplicate_goal"
    if goal.max_count is not None and n >= goal.max_count:
        return "recurring_limit"
    if goal.max_months is not None and first is not None:
        if at >= months_later(first, goal.max_months):
            return "recurring_limit"
    return None


async def fraud(
    conn: asyncpg.Connection, rules: OfferRules, advertiser_id: int, txn_id: str, goal: str,
    click: Any, at: datetime,
) -> Verdict:  # fmt: skip
    s = rules.fraud
    ctc = (at - click["created_at"]).total_seconds() if click is not None else None
    seen = s.duplicate_txn and await facts.txn_seen(conn, advertiser_id, txn_id, goal)
    key = facts.ip_key(click)
    from_ip = None
    if s.max_conversions_per_ip is not None and key is not None:
        from_ip = await facts.conversions_from_ip(conn, rules.offer_id, key, at)
    flood = None
    if s.max_clicks_per_sub_hour is not None and click is not None and click["sub1"]:
        flood = await facts.clicks_on_sub(conn, click)
    return judge(s, Facts(ctc, bool(seen), from_ip, flood))
