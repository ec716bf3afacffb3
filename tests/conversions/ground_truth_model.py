"""The ground-truth test's model: expected conversions, statuses and payouts computed
from the rules as documented (docs/adr/0031-0033), independently of the code under test."""

from __future__ import annotations

import random
from dataclasses import dataclass
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
        self.conv[key] = e

    def change(self, key: tuple[str, str], status: str) -> None:
        e = self.conv[key]
        if e.status == status:
            return
        ours = e.reason is not None and not e.reason.startswith(("postback", "api"))
        if ours and status in ("pending", "approved"):
            return
        was = e.status in ("pending", "approved")
        now = status in ("pending", "approved")
        if was and not now:
            for k, amt in e.counted_caps:
                self.cap_used[k] -= amt
        e.status, e.reason = status, f"postback: status={status}"
