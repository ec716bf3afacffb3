"""Click-level traffic rules: which clicks of an offer or partner are blocked or flagged (pure).

A rule set applies to one offer, one partner, one offer and partner pair, or (neither
given) the whole network. Each may block or flag datacenter traffic (a hosting/cloud
AS number, tracker.domain.datacenters) and block clicks by address (CIDRs), by
sub-id or source value, and by user-agent substring. The redirect asks ``judge``
for every click of a link that has rule sets (no cost for the others): a blocked
click goes to the fallback, is stored with class ``blocked`` and the rule that
blocked it, and is never paid (tracker.domain.counted); a flagged click goes on as
usual and is stored with the rule that flagged it. Rule sets are judged in id order;
the first block wins, else the first flag.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from ipaddress import ip_address, ip_network
from typing import Any

from tracker.domain.client_ip import Address, Network

SUB_FIELDS = (*(f"sub{i}" for i in range(1, 11)), "source")
# The rule recorded on a /click-form click of a partner who does not run the offer.
NOT_RUNNING_OFFER = "partner_not_on_offer"


@dataclass(frozen=True, slots=True)
class RuleSet:
    id: int
    offer_id: int | None
    affiliate_id: int | None
    datacenter: str  # allow, flag or block
    ips: tuple[Network, ...]
    subs: tuple[tuple[int, frozenset[str]], ...]  # (index in SUB_FIELDS, blocked values)
    agents: tuple[str, ...]  # lower-cased substrings

    @property
    def needs_network(self) -> bool:
        return self.datacenter != "allow"

    def applies(self, offer_id: int, affiliate_id: int) -> bool:
        return self.offer_id in (None, offer_id) and self.affiliate_id in (None, affiliate_id)


def rule_set_from_row(row: dict[str, Any]) -> RuleSet:
    subs = row.get("sub_blocklist") or {}
    return RuleSet(
        id=row["id"],
        offer_id=row.get("offer_id"),
        affiliate_id=row.get("affiliate_id"),
        datacenter=row.get("datacenter") or "allow",
        ips=tuple(ip_network(str(c), strict=False) for c in row.get("ip_blocklist") or ()),
        subs=tuple(
            (SUB_FIELDS.index(name), frozenset(v.lower() for v in values))
            for name, values in sorted(subs.items())
            if name in SUB_FIELDS and values
        ),
        agents=tuple(a.lower() for a in row.get("ua_blocklist") or () if a),
    )


def applicable(
    rule_sets: Iterable[RuleSet], offer_id: int, affiliate_id: int
) -> tuple[RuleSet, ...]:
    return tuple(
        sorted((r for r in rule_sets if r.applies(offer_id, affiliate_id)), key=lambda r: r.id)
    )


def judge(
    rule_sets: Sequence[RuleSet], ip: str, subs: Sequence[str | None], source: str, ua: str,
    datacenter: Callable[[str], bool],
) -> tuple[bool, str]:  # fmt: skip
    """(blocked, rule) of one click: the rule that blocked or flagged it, or (False, "").

    ``subs``: sub1…sub10 as sent (the link's defaults filled in); ``datacenter``: whether
    an address is a hosting network's (called only when a rule set needs it).
    """
    flag = ""
    values = (*subs, source)
    lowered_ua: str | None = None
    addr: Address | None = None
    bad_ip = not ip
    dc: bool | None = None
    for r in rule_sets:
        if r.ips and not bad_ip:
            if addr is None:
                try:
                    addr = ip_address(ip)
                except ValueError:
                    bad_ip = True
            if addr is not None and any(addr in n for n in r.ips):
                return True, f"ip#{r.id}"
        for i, blocked in r.subs:
            v = values[i] if i < len(values) else None
            if v and v.lower() in blocked:
                return True, f"{SUB_FIELDS[i]}#{r.id}"
        if r.agents:
            if lowered_ua is None:
                lowered_ua = ua.lower()
            if any(a in lowered_ua for a in r.agents):
                return True, f"agent#{r.id}"
        if r.datacenter != "allow":
            if dc is None:
                dc = bool(ip) and datacenter(ip)
            if dc:
                if r.datacenter == "block":
                    return True, f"datacenter#{r.id}"
                flag = flag or f"flag:datacenter#{r.id}"
    return False, flag
