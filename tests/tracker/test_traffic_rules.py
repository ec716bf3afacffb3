"""Traffic rules as pure rules (tracker.domain.traffic_rules): which rule sets apply, the
first block wins over any flag, values and agents match without regard to case."""

from __future__ import annotations

from tracker.domain.traffic_rules import RuleSet, applicable, judge, rule_set_from_row

SUBS: list[str | None] = ["Site-A", None, None, None, None, None, None, None, None, None]


def _rules(*rows: dict[str, object]) -> list[RuleSet]:
    return [rule_set_from_row({"id": n + 1, **r}) for n, r in enumerate(rows)]


def test_scope_and_order() -> None:
    rules = _rules({"offer_id": 1}, {"affiliate_id": 7}, {"offer_id": 1, "affiliate_id": 8}, {})
    assert [r.id for r in applicable(rules, 1, 7)] == [1, 2, 4]
    assert [r.id for r in applicable(rules, 2, 8)] == [4]
    assert [r.id for r in applicable(rules, 1, 8)] == [1, 3, 4]


def test_first_block_wins_else_the_first_flag() -> None:
    dc = {"10.1.0.1"}.__contains__
    rules = _rules(
        {"datacenter": "flag"},
        {"ip_blocklist": ["203.0.113.0/24"], "sub_blocklist": {"sub1": ["site-a"]}},
        {"datacenter": "block", "ua_blocklist": ["EvilBot"]},
    )
    assert judge(rules, "203.0.113.5", SUBS, "", "x", dc) == (True, "ip#2")
    assert judge(rules, "198.51.100.1", SUBS, "", "x", dc) == (True, "sub1#2")  # case ignored
    assert judge(rules, "198.51.100.1", [None] * 10, "", "my evilbot/2", dc) == (True, "agent#3")
    assert judge(rules, "10.1.0.1", [None] * 10, "", "x", dc) == (True, "datacenter#3")
    assert judge(rules[:1], "10.1.0.1", [None] * 10, "", "x", dc) == (False, "flag:datacenter#1")
    assert judge(rules, "198.51.100.1", [None] * 10, "", "x", dc) == (False, "")
    assert judge(rules, "not-an-ip", [None] * 10, "", "x", dc) == (False, "")
    src = _rules({"sub_blocklist": {"source": ["Spam"]}})
    assert judge(src, "", [None] * 10, "spam", "x", dc) == (True, "source#1")


def test_datacenter_lookup_only_when_a_rule_needs_it() -> None:
    calls: list[str] = []

    def dc(ip: str) -> bool:
        calls.append(ip)
        return False

    judge(_rules({"ip_blocklist": ["203.0.113.0/24"]}), "198.51.100.1", SUBS, "", "x", dc)
    assert calls == []
    judge(
        _rules({"datacenter": "block"}, {"datacenter": "flag"}), "198.51.100.1", SUBS, "", "x", dc
    )
    assert calls == ["198.51.100.1"]  # once, for both rule sets
