"""Which partner a conversion belongs to, and why (pure).

By click id (or the click cookie of a pixel); else by promo code. When both
are present and point at different partners, the offer's ``coupon_wins``
decides. A click counts only inside the offer's attribution window, which is
measured from the click to the conversion. See docs/adr/0031.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

# A postback's time comes from our clock, a click's from the redirect's: allow
# this much skew before calling a conversion earlier than its click.
CLOCK_SKEW = timedelta(seconds=5)
# How the click id reached us, by intake: the redirect's cookie (pixel), the first-party
# SDK (browser), else the merchant's server passed it on (postback).
CLICK_METHODS = {"pixel": "cookie", "browser": "sdk"}


@dataclass(frozen=True)
class ClickFacts:
    click_id: str
    at: datetime
    offer_id: int
    affiliate_id: int
    window_days: int
    coupon_wins: bool


@dataclass(frozen=True)
class CodeFacts:
    code: str
    offer_id: int
    affiliate_id: int
    coupon_wins: bool


@dataclass(frozen=True)
class Attribution:
    method: str  # click_id, cookie, promo_code, none
    offer_id: int | None
    affiliate_id: int | None
    click: ClickFacts | None
    code: CodeFacts | None
    reason: str | None  # why nothing was attributed, or why the other candidate lost
    record: dict[str, Any]


def in_window(click: ClickFacts, at: datetime) -> bool:
    return click.at - CLOCK_SKEW <= at <= click.at + timedelta(days=click.window_days)


def attribute(
    at: datetime,
    click: ClickFacts | None,
    click_problem: str | None,
    code: CodeFacts | None,
    via: str,
) -> Attribution:
    """``click_problem``: why a click id given did not yield a click (not found, other advertiser)."""
    record: dict[str, Any] = {"at": at.isoformat()}
    if click is not None:
        record.update(click_id=click.click_id, click_at=click.at.isoformat(),
                      window_days=click.window_days)  # fmt: skip
        if not in_window(click, at):
            click_problem = "outside_window" if at > click.at else "before_click"
            record["click_rejected"] = click_problem
            click = None
    elif click_problem:
        record["click_rejected"] = click_problem
    if code is not None:
        record["promo_code"] = code.code
    click_method = CLICK_METHODS.get(via, "click_id")
    if click is not None and code is not None and code.affiliate_id != click.affiliate_id:
        wins = click.coupon_wins
        record["precedence"] = "promo_code" if wins else "click_id"
        if wins:
            return Attribution("promo_code", code.offer_id, code.affiliate_id, None, code,
                               "click_lost_to_code", {**record, "method": "promo_code"})  # fmt: skip
        return Attribution(click_method, click.offer_id, click.affiliate_id, click, None,
                           "code_lost_to_click", {**record, "method": click_method})  # fmt: skip
    if click is not None:
        same = code if code is not None and code.offer_id == click.offer_id else None
        return Attribution(click_method, click.offer_id, click.affiliate_id, click, same, None,
                           {**record, "method": click_method})  # fmt: skip
    if code is not None:
        return Attribution("promo_code", code.offer_id, code.affiliate_id, None, code,
                           click_problem, {**record, "method": "promo_code"})  # fmt: skip
    reason = click_problem or "no_click"
    return Attribution("none", None, None, None, None, reason, {**record, "method": "none"})
