"""The ground-truth test's model: expected conversions, statuses and payouts computed
from the rules as documented (docs/adr/0031-0033), independently of the code under test."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from uuid import UUID

D = Decimal
CENT = D("0.01")
NY = "America/New_York"


def cents(x: Decimal) -> Decimal:
    return x.quantize(CENT, ROUND_HALF_UP)


def uuid7_at(t: datetime, rng: random.Random) -> UUID:
    ms = int(t.timestamp() * 1000)
    return UUID(int=(ms << 80) | (0x7 << 76) | (rng.getrandbits(12) << 64) | (0b10 << 62)
                | rng.getrandbits(62))  # fmt: skip


@dataclass
class Click:
    id: str
    offer: str  # scenario name of the offer
    partner: int  # index 0..3
    at: datetime
    ua: str


@dataclass
class Expect:
    key: tuple[str, str]  # (goal, txn)
    partner: int | None
    offer: str | None
    status: str
    reason: str | None
    payout: Decimal
    revenue: Decimal
    counted_caps: list[tuple[str, Decimal]]  # cap usage taken, given back on reversal
    click: Click | None = None
    at: datetime | None = None
    merchant: str = "approved"  # what the merchant said last (docs/adr/0080)
    wants: list[tuple[str, Decimal, Decimal]] = field(default_factory=list)  # caps to take
    cap_action: str = "reject"

    @property
    def gate(self) -> str | None:
        """The tracker's standing verdict: a reason that is neither a cap nor a rate."""
        return self.reason if self.reason not in (None, "cap", "no_rate") else None


COUNTED = ("pending", "approved")
RANK = {"pending": 0, "approved": 1, "rejected": 2, "reversed": 2}


class Model:
    """The documented rules, applied in the order the worker sees the postbacks."""

    def __init__(self) -> None:
        self.conv: dict[tuple[str, str], Expect] = {}
        self.cap_used: dict[str, Decimal] = {}
        self.goal_count: dict[tuple[str, str], int] = {}
        self.month_approved: dict[tuple[str, int, str], int] = {}

    def _cap_try(
        self, wants: list[tuple[str, Decimal, Decimal]]
    ) -> list[tuple[str, Decimal]] | None:
        if any(self.cap_used.get(k, D(0)) + amt > limit for k, amt, limit in wants):
            return None
        for k, amt, _ in wants:
            self.cap_used[k] = self.cap_used.get(k, D(0)) + amt
        return [(k, amt) for k, amt, _ in wants]

    def new(self, key: tuple[str, str], e: Expect) -> None:
        if key in self.conv:
            return  # a repeat: nothing
        if e.reason is None:  # the merchant's own status stands
            e.merchant = e.status
        self.conv[key] = e

    def change(self, key: tuple[str, str], status: str) -> None:
        """A merchant's postback for a stored conversion (docs/adr/0080): it only moves the
        merchant's status forward; then the same gates as a new conversion."""
        e = self.conv[key]
        if RANK[status] <= RANK[e.merchant]:
            return
        e.merchant = status
        was = e.status in COUNTED
        if status not in COUNTED:
            for k, amt in e.counted_caps if was else []:
                self.cap_used[k] -= amt
            e.counted_caps = []
            e.status, e.reason = status, f"postback: status={status}"
        elif e.gate is not None:
            e.status = "rejected"
        elif e.reason == "no_rate":
            e.status = "held"
        elif was:  # stays counted: keeps its caps
            e.status, e.reason = status, f"postback: status={status}"
        else:
            taken = self._cap_try(e.wants)
            if taken is None:
                e.status, e.reason = ("held" if e.cap_action == "pending" else "rejected"), "cap"
            else:
                e.counted_caps = taken
                e.status, e.reason = status, f"postback: status={status}"
