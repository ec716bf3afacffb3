"""The pure rules of conversions, without servers: signatures, parameters, payouts,
attribution, caps periods, fraud."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.domain import signatures
from tracker.domain.attribution import ClickFacts, CodeFacts, attribute
from tracker.domain.caps import month_bounds, period_key
from tracker.domain.client_ip import allowed, client_ip, networks
from tracker.domain.fraud import Facts, FraudSettings, judge
from tracker.domain.incoming_params import BadParam, parse
from tracker.domain.payouts import MonthToDate, Override, RevenueRule, Rule, Tier, price

D = Decimal
T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)

pairs_st = st.lists(st.tuples(st.text(min_size=1, max_size=12), st.text(max_size=20)), max_size=6)
secret_st = st.text(min_size=16, max_size=40)


@settings(deadline=None)  # a loaded CI machine must not fail a pure check on time
@given(secret_st, pairs_st, st.binary(max_size=200), st.integers(-299, 299))
def test_a_signature_made_with_the_secret_verifies(secret: str, pairs: list[tuple[str, str]],
                                                   body: bytes, skew: int) -> None:  # fmt: skip
    now = time.time()
    ts = str(int(now) + skew)
    sig = signatures.sign(secret, ts, "POST", "/postback", pairs, body)
    assert signatures.verify(secret, sig, ts, now, "POST", "/postback", pairs, body) is None
    assert signatures.verify(secret, "sha256=" + sig.upper(), ts, now, "post", "/postback",
                             list(reversed(pairs)), body) is None  # fmt: skip


@settings(deadline=None)  # a loaded CI machine must not fail a pure check on time
@given(secret_st, secret_st, pairs_st, st.binary(max_size=100))
def test_another_secret_never_verifies(
    a: str, b: str, pairs: list[tuple[str, str]], body: bytes
) -> None:
    if a == b:
        return
    ts = str(int(time.time()))
    sig = signatures.sign(a, ts, "GET", "/postback", pairs, body)
    assert (
        signatures.verify(b, sig, ts, time.time(), "GET", "/postback", pairs, body)
        == "bad_signature"
    )


@settings(deadline=None)  # a loaded CI machine must not fail a pure check on time
@given(secret_st, pairs_st, st.binary(max_size=100), st.text(min_size=1, max_size=8),
       st.binary(min_size=1, max_size=8))  # fmt: skip
def test_any_change_to_the_request_breaks_the_signature(
    secret: str, pairs: list[tuple[str, str]], body: bytes, extra: str, more: bytes
) -> None:
    ts = str(int(time.time()))
    sig = signatures.sign(secret, ts, "POST", "/postback", pairs, body)
    now = time.time()
    changed = [*pairs, ("amount", extra)]
    assert (
        signatures.verify(secret, sig, ts, now, "POST", "/postback", changed, body)
        == "bad_signature"
    )
    assert (
        signatures.verify(secret, sig, ts, now, "POST", "/postback", pairs, body + more)
        == "bad_signature"
    )
    assert (
        signatures.verify(secret, sig, ts, now, "POST", "/aff_lsr", pairs, body) == "bad_signature"
    )
    assert (
        signatures.verify(secret, sig, str(int(ts) + 1), now, "POST", "/postback", pairs, body)
        == "bad_signature"
    )


@settings(deadline=None)  # a loaded CI machine must not fail a pure check on time
@given(st.integers(301, 10**8), st.sampled_from([-1, 1]))
def test_a_timestamp_beyond_300_s_is_stale(off: int, sign: int) -> None:
    now = 1_800_000_000.0
    ts = str(int(now) + sign * off)
    sig = signatures.sign("s" * 16, ts, "GET", "/postback", [], b"")
    assert signatures.verify("s" * 16, sig, ts, now, "GET", "/postback", [], b"") == "stale"


@settings(deadline=None)  # a loaded CI machine must not fail a pure check on time
@given(st.text(max_size=80))
def test_garbage_signatures_are_refused_not_crashing(garbage: str) -> None:
    ts = str(int(time.time()))
    assert (
        signatures.verify("k" * 16, garbage, ts, time.time(), "GET", "/p", [], b"")
        == "bad_signature"
    )
    assert signatures.verify("k" * 16, "00", garbage + "x", time.time(), "GET", "/p", [], b"") in (
        "bad_timestamp", "stale", "bad_signature")  # fmt: skip


def test_dialects_map_to_native_names() -> None:
    cid = "0190a7b4-0000-7000-8000-000000000001"
    ho = parse(
        {"transaction_id": cid, "adv_sub": "A1", "amount": "9.99", "goal_id": "7"}, "hasoffers"
    )
    assert (str(ho.click_id), ho.txn_id, ho.amount, ho.goal) == (cid, "A1", D("9.99"), "7")
    vo = parse({"cid": cid, "payout": "5", "txid": "T", "et": "sale"})
    assert (str(vo.click_id), vo.txn_id, vo.amount, vo.goal) == (cid, "T", D(5), "sale")
    ef = parse({"transaction_id": cid, "amount": "1", "event_id": "lead", "order_id": "O",
                "coupon_code": "SUMMER", "adv1": "x"})  # fmt: skip
    assert (ef.txn_id, ef.goal, ef.coupon, ef.adv_subs[0]) == ("O", "lead", "SUMMER", "x")
    assert parse({"click_id": cid}).txn_id == cid  # no txn id: one per click and goal
    assert parse({"txn_id": "t", "status": "chargeback"}).status == "reversed"
    assert parse({"txn_id": "t"}).currency is None
    for bad in ({"txn_id": "t", "amount": "1e400"}, {"txn_id": "t", "amount": "-1"},
                {"txn_id": "t", "amount": "0.00001"}, {"txn_id": "t", "currency": "EURO"},
                {"click_id": "nope"}, {}, {"txn_id": "t", "status": "maybe"}):  # fmt: skip
        with pytest.raises(BadParam):
            parse(bad)


def test_payout_rule_precedence_and_rounding() -> None:
    goal = Rule(D("5"), D("0"))
    default = Rule(D("1"))
    ov = Override(1, None, T0 - timedelta(days=1), T0 + timedelta(days=1), Rule(D("7")))
    ov_goal = Override(2, "sale", None, None, Rule(D("0"), D("12.5")))
    tiers = [
        Tier(3, None, "conversions", D(10), Rule(D("6"))),
        Tier(4, None, "conversions", D(20), Rule(D("8"))),
    ]
    kw = {"goal_payout": goal, "goal_revenue": Rule(D(0), D(30)), "offer_payout": default,
          "offer_revenue": Rule(D(2))}  # fmt: skip
    p = price("sale", T0, D("10.01"), **kw)  # type: ignore[arg-type]
    assert (p.payout, p.revenue, p.payout_rule) == (D("5.00"), D("3.00"), "goal:sale (cpa)")
    assert price("sale", T0, D("10.01"), **kw, promo_rule=Rule(D(1), D(10))).payout == D("2.00")  # type: ignore[arg-type]
    assert price("sale", T0, D(0), **kw, overrides=[ov]).payout == D(7)  # type: ignore[arg-type]
    p = price("sale", T0, D("0.04"), **kw, overrides=[ov, ov_goal])  # type: ignore[arg-type]
    assert (p.payout, p.payout_rule) == (D("0.01"), "override:2 (revshare)")  # 0.005 → half up
    late = T0 + timedelta(days=2)
    assert price("sale", late, D(0), **kw, overrides=[ov]).payout == D(5)  # type: ignore[arg-type]
    month = MonthToDate(19, D(0))
    assert price("sale", T0, D(0), **kw, tiers=tiers, month=month).payout == D(6)  # type: ignore[arg-type]
    assert price("sale", T0, D(0), **kw, tiers=tiers, month=MonthToDate(20, D(0))).payout == D(8)  # type: ignore[arg-type]
    by_amount = [
        Tier(5, "sale", "amount", D(1000), Rule(D(9))),
        Tier(6, None, "revenue", D(50), Rule(D(11))),
    ]
    m = MonthToDate(0, D(1000), D(0))
    assert price("sale", T0, D(0), **kw, tiers=by_amount, month=m).payout == D(9)  # type: ignore[arg-type]
    m = MonthToDate(0, D(999), D(50))
    assert price("sale", T0, D(0), **kw, tiers=by_amount, month=m).payout == D(11)  # type: ignore[arg-type]
    m = MonthToDate(0, D(5000), D(0))
    assert price("lead", T0, D(0), **kw, tiers=by_amount, month=m).payout == D(5)  # type: ignore[arg-type]
    assert (
        price("other", T0, D(0), None, None, default, Rule(D(2))).payout_rule
        == "offer_default (cpa)"
    )


def test_revenue_rule_precedence() -> None:
    """Valid at the time; one partner before every partner, then one goal before every
    goal, then the newest; else the goal's revenue, else the offer's."""
    day = timedelta(days=1)
    rules = [
        RevenueRule(1, None, None, T0, None, Rule(D("5"))),
        RevenueRule(2, None, "sale", T0, T0 + day, Rule(D("6"))),
        RevenueRule(3, 7, None, T0 - day, None, Rule(D("0"), D("10"))),
        RevenueRule(4, None, None, T0 + 2 * day, None, Rule(D("8"))),  # newer, every partner
    ]
    kw = {"goal_payout": None, "offer_payout": Rule(D(1)), "offer_revenue": Rule(D(2)),
          "revenue_rules": rules}  # fmt: skip

    def rev(goal: str, at: datetime, aff: int, goal_revenue: Rule | None = None) -> tuple[D, str]:
        p = price(goal, at, D("33.35"), goal_revenue=goal_revenue, affiliate_id=aff, **kw)  # type: ignore[arg-type]
        return p.revenue, p.revenue_rule

    before = T0 - 2 * day
    assert rev("sale", before, 7) == (D(2), "offer_default (cpa)")
    assert rev("sale", before, 7, Rule(D(3))) == (D(3), "goal:sale (cpa)")
    assert rev("sale", T0 - day, 8) == (D(2), "offer_default (cpa)")  # rule 3 is partner 7's
    # rules 1, 2 and 3 valid: the partner's own beats one goal's, which beats every goal's
    assert rev("sale", T0, 7) == (D("3.34"), "revenue_rule:3 (revshare)")  # 3.335 → up
    assert rev("sale", T0, 8) == (D(6), "revenue_rule:2 (cpa)")
    assert rev("lead", T0, 8) == (D(5), "revenue_rule:1 (cpa)")
    assert rev("sale", T0 + day, 8) == (D(5), "revenue_rule:1 (cpa)")  # rule 2 ended
    assert rev("sale", T0 + 3 * day, 7)[1] == "revenue_rule:3 (revshare)"  # partner first
    assert rev("sale", T0 + 3 * day, 8) == (D(8), "revenue_rule:4 (cpa)")  # then the newest


def _click(at: datetime, aff: int = 1, window: int = 30, coupon_wins: bool = False) -> ClickFacts:
    return ClickFacts("c1", at, 10, aff, window, coupon_wins)


def test_attribution_window_and_precedence() -> None:
    a = attribute(T0, _click(T0 - timedelta(days=29)), None, None, "postback")
    assert (a.method, a.affiliate_id) == ("click_id", 1)
    a = attribute(T0, _click(T0 - timedelta(days=31)), None, None, "postback")
    assert (a.method, a.reason) == ("none", "outside_window")
    code = CodeFacts("SUMMER", 10, 2, False)
    a = attribute(T0, _click(T0 - timedelta(days=31)), None, code, "postback")
    assert (a.method, a.affiliate_id) == ("promo_code", 2)
    assert attribute(T0, _click(T0), None, code, "postback").affiliate_id == 1
    a = attribute(T0, _click(T0, coupon_wins=True), None, code, "pixel")
    assert (a.method, a.affiliate_id, a.record["precedence"]) == ("promo_code", 2, "promo_code")
    assert attribute(T0, _click(T0), None, None, "pixel").method == "cookie"
    assert attribute(T0, _click(T0), None, None, "browser").method == "sdk"
    assert attribute(T0, None, "click_not_found", None, "postback").reason == "click_not_found"


def test_cap_periods_follow_the_offer_time_zone() -> None:
    late = datetime(2026, 3, 1, 3, 30, tzinfo=UTC)  # 22:30 on Feb 28 in New York
    assert period_key("day", late, "UTC") == "2026-03-01"
    assert period_key("day", late, "America/New_York") == "2026-02-28"
    assert period_key("month", late, "America/New_York") == "2026-02"
    start, end = month_bounds(late, "America/New_York")
    assert (start, end) == (
        datetime(2026, 2, 1, 5, tzinfo=UTC),
        datetime(2026, 3, 1, 5, tzinfo=UTC),
    )
    assert month_bounds(datetime(2026, 12, 5, tzinfo=UTC), "UTC")[1] == datetime(
        2027, 1, 1, tzinfo=UTC
    )


def test_fraud_rules_enforce_or_only_flag() -> None:
    s = FraudSettings(min_click_seconds=10, max_click_seconds=3600, require_click=True,
                      duplicate_txn=True, max_conversions_per_ip=3, max_clicks_per_sub_hour=100)  # fmt: skip
    ok = judge(s, Facts(60, False, 2, 100))
    assert ok.rejected_by is None and ok.flagged == [] and len(ok.checks) == 6
    bad = judge(s, Facts(2, True, 3, 101))
    assert bad.rejected_by == "ctc_too_short"
    assert bad.flagged == ["ctc_too_short", "duplicate_txn", "ip_velocity", "click_flood"]
    assert judge(s, Facts(None, False, None, None)).rejected_by == "no_click"
    shadow = judge(FraudSettings(mode="shadow", min_click_seconds=10), Facts(2, False, None, None))
    assert shadow.rejected_by is None and shadow.checks[0]["outcome"] == "flagged"


def test_forwarded_for_is_believed_only_from_trusted_proxies() -> None:
    trusted = networks(["10.0.0.0/8"])
    assert str(client_ip("203.0.113.9", "198.51.100.1", trusted)) == "203.0.113.9"
    assert str(client_ip("10.0.0.2", "198.51.100.1, 10.0.0.7", trusted)) == "198.51.100.1"
    assert str(client_ip("10.0.0.2", "garbage", trusted)) == "10.0.0.2"
    assert str(client_ip("127.0.0.1", "198.51.100.1", ())) == "127.0.0.1"
    assert allowed(client_ip("::ffff:198.51.100.1", None, ()), networks(["198.51.100.0/24"]))
    assert not allowed(None, networks(["198.51.100.0/24"]))
