"""Fraud rules of an offer, each with a reason code (pure).

The worker gathers the facts (counts from Postgres); this module judges
them. In ``shadow`` mode a rule that fires only flags the conversion; in
``enforce`` mode the first firing rule rejects it with ``fraud:<code>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FraudSettings:
    mode: str = "enforce"  # enforce or shadow
    min_click_seconds: int | None = None
    max_click_seconds: int | None = None
    require_click: bool = False
    duplicate_txn: bool = False
    max_conversions_per_ip: int | None = None
    max_clicks_per_sub_hour: int | None = None


@dataclass(frozen=True)
class Facts:
    seconds_from_click: float | None  # None: no click
    txn_seen_before: bool  # same advertiser and txn id under another goal
    conversions_from_ip: int | None  # earlier conversions from the click's IP key in 24 h
    clicks_on_sub_hour: int | None  # clicks on the offer with the click's sub1 in the hour before


@dataclass(frozen=True)
class Verdict:
    checks: list[dict[str, Any]]
    rejected_by: str | None  # reason code when enforced

    @property
    def flagged(self) -> list[str]:
        return [c["rule"] for c in self.checks if c["outcome"] != "pass"]


def judge(s: FraudSettings, f: Facts) -> Verdict:
    checks: list[dict[str, Any]] = []

    def check(rule: str, fired: bool, value: Any, limit: Any) -> None:
        outcome = "pass" if not fired else ("flagged" if s.mode == "shadow" else "rejected")
        checks.append({"rule": rule, "outcome": outcome, "value": value, "limit": limit})

    ctc = f.seconds_from_click
    if s.min_click_seconds is not None and ctc is not None:
        check("ctc_too_short", ctc < s.min_click_seconds, round(ctc, 3), s.min_click_seconds)
    if s.max_click_seconds is not None and ctc is not None:
        check("ctc_too_long", ctc > s.max_click_seconds, round(ctc, 3), s.max_click_seconds)
    if s.require_click:
        check("no_click", ctc is None, ctc is not None, True)
    if s.duplicate_txn:
        check("duplicate_txn", f.txn_seen_before, f.txn_seen_before, False)
    if s.max_conversions_per_ip is not None and f.conversions_from_ip is not None:
        n = f.conversions_from_ip
        check("ip_velocity", n >= s.max_conversions_per_ip, n, s.max_conversions_per_ip)
    if s.max_clicks_per_sub_hour is not None and f.clicks_on_sub_hour is not None:
        n = f.clicks_on_sub_hour
        check("click_flood", n > s.max_clicks_per_sub_hour, n, s.max_clicks_per_sub_hour)
    first = next((c["rule"] for c in checks if c["outcome"] == "rejected"), None)
    return Verdict(checks, first)
