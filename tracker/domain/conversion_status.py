"""A conversion's status from what the merchant said and what the tracker decided (pure).

docs/adr/0080: ``status = settle(merchant_status, gate, priced, caps)``, the same rule for
a new conversion, a merchant's status change, an amendment, an admin override and a
currency rate that arrives:

1. the merchant says ``rejected`` or ``reversed``: that status;
2. else a standing tracker verdict (``gate``: attribution, goal rule, fraud rule):
   ``rejected`` with the gate as the reason;
3. else no currency rate at the conversion's time: ``held`` (``no_rate``);
4. else the caps are reserved; a full one: ``held`` (``cap_action = pending``) or
   ``rejected`` (``reject``), reason ``cap``;
5. else the merchant's status.
"""

from __future__ import annotations

from dataclasses import dataclass

STATUSES = ("pending", "approved", "held", "rejected", "reversed")
MERCHANT_STATUSES = ("pending", "approved", "rejected", "reversed")
COUNTED = frozenset({"pending", "approved"})  # in conversions, payout, caps
# A postback moves the merchant's status only forward (a replay never moves it back).
RANK = {"pending": 0, "approved": 1, "rejected": 2, "reversed": 2}

# Gates an admin may override; attribution failures cannot be (no partner to pay).
ATTRIBUTION_GATES = frozenset(
    {"no_click", "click_not_found", "other_advertiser", "outside_window", "before_click"}
)
GOAL_GATES = frozenset({"unknown_goal", "duplicate_goal", "recurring_limit"})

# Accepted from merchants (case-insensitive) → the status they mean.
ALIASES: dict[str, str] = {
    "approved": "approved", "1": "approved", "approve": "approved", "accepted": "approved",
    "pending": "pending", "0": "pending", "hold": "pending",
    "rejected": "rejected", "reject": "rejected", "declined": "rejected", "-1": "rejected",
    "reversed": "reversed", "refund": "reversed", "refunded": "reversed",
    "chargeback": "reversed", "reversal": "reversed",
}  # fmt: skip


def overridable(gate: str) -> bool:
    return gate not in ATTRIBUTION_GATES


def postback_may_move(before: str | None, after: str) -> bool:
    """A postback's status applies only when it moves the merchant's status forward."""
    return before is None or RANK[after] > RANK[before]


@dataclass(frozen=True)
class Settled:
    status: str
    reason: str | None
    wants_caps: bool  # True: reserve the caps, then call ``after_caps``


def settle(merchant: str, gate: str | None, priced: bool) -> Settled:
    """Steps 1 to 3; ``wants_caps`` when the caps decide (step 4)."""
    if merchant not in COUNTED:
        return Settled(merchant, None, False)
    if gate is not None:
        return Settled("rejected", gate, False)
    if not priced:
        return Settled("held", "no_rate", False)
    return Settled(merchant, None, True)


def after_caps(merchant: str, room: bool, cap_action: str) -> tuple[str, str | None]:
    """Steps 4 and 5: the status once the caps were tried."""
    if room:
        return merchant, None
    return ("held" if cap_action == "pending" else "rejected"), "cap"
