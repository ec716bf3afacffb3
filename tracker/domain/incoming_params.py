"""Postback parameters of every dialect, mapped onto the native names (pure).

Merchants integrated with another tracker switch by changing the host: the
parameter names they already send are read here. ``transaction_id`` is the
*click* id in HasOffers and Everflow (their session id), not the order id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from uuid import UUID

from tracker.domain.conversion_status import ALIASES

Dialect = str  # "native" (every alias on /postback) or "hasoffers" (/aff_lsr, /aff_goal)

# alias → native name, in priority order: the first one present wins.
_ALIASES: dict[str, tuple[str, ...]] = {
    "click_id": ("click_id", "cid", "transaction_id", "clickid", "subid"),
    "txn_id": ("txn_id", "txid", "order_id", "adv_sub"),
    "goal": ("goal", "et", "event_id", "goal_id", "event"),
    "amount": ("amount", "payout", "sale_amount", "revenue"),
    "currency": ("currency", "cur"),
    "status": ("status",),
    "coupon": ("coupon", "coupon_code", "promo_code"),
    "advertiser_id": ("advertiser_id", "adv_id", "aid"),
    "token": ("token", "security_token", "key"),
}
_HASOFFERS = {**_ALIASES, "txn_id": ("adv_sub", "txn_id", "order_id")}

_STATUS = ALIASES  # every status word merchants send (case-insensitive), docs/adr/0080
# An amount as text: digits, at most 4 decimals, below 10^9 (AMOUNT_MAX). The same rule is
# the OpenAPI pattern of the postback routes' amount parameters.
AMOUNT_PATTERN = r"^[0-9]{1,9}(\.[0-9]{1,4})?$"
AMOUNT_MAX = Decimal("999999999.9999")
_AMOUNT = re.compile(AMOUNT_PATTERN)
_GOAL = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_CUR = re.compile(r"^[A-Za-z]{3}$")


class BadParam(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Postback:
    txn_id: str | None
    click_id: UUID | None
    goal: str = "default"
    amount: Decimal = Decimal(0)
    amount_given: bool = False  # an amount was sent (for a known conversion: an amendment)
    currency: str | None = None  # None: the offer's currency
    status: str = "approved"
    coupon: str | None = None
    advertiser_id: int | None = None
    token: str | None = None
    adv_subs: list[str | None] = field(default_factory=list)


def _pick(params: dict[str, str], names: tuple[str, ...]) -> str | None:
    for n in names:
        v = params.get(n)
        if v is not None and v.strip() != "":
            return v.strip()
    return None


def parse(params: dict[str, str], dialect: Dialect = "native") -> Postback:
    """Read one postback; raise :class:`BadParam` naming the field that is wrong."""
    table = _HASOFFERS if dialect == "hasoffers" else _ALIASES
    get = {name: _pick(params, names) for name, names in table.items()}
    click: UUID | None = None
    if get["click_id"]:
        try:
            click = UUID(get["click_id"])
        except ValueError:
            raise BadParam("click_id", "click_id is not a click id of this tracker") from None
    txn = get["txn_id"] or (str(click) if click else None)
    if not txn:
        raise BadParam("txn_id", "txn_id is required (or a click_id to stand for it)")
    if len(txn) > 255:
        raise BadParam("txn_id", "txn_id is longer than 255 characters")
    goal = get["goal"] or "default"
    if not _GOAL.match(goal):
        raise BadParam("goal", "goal must be 1-64 of A-Z a-z 0-9 _ . -")
    raw = get["amount"]
    if raw is not None and not _AMOUNT.match(raw):
        raise BadParam("amount", "amount must be a decimal number from 0 to 999999999.9999 with"
                       " at most 4 decimal places (no sign, no exponent), e.g. 49.90")  # fmt: skip
    amount = Decimal(raw or "0")
    currency = get["currency"]
    if currency is not None:
        if not _CUR.match(currency):
            raise BadParam("currency", "currency is a 3-letter ISO 4217 code")
        currency = currency.upper()
    status = _STATUS.get((get["status"] or "approved").lower())
    if status is None:
        raise BadParam("status", "status is one of " + ", ".join(sorted(_STATUS)))
    adv: int | None = None
    if get["advertiser_id"]:
        try:
            adv = int(get["advertiser_id"])
        except ValueError:
            raise BadParam("advertiser_id", "advertiser_id is an integer") from None
    coupon = get["coupon"]
    if coupon is not None and len(coupon) > 64:
        raise BadParam("coupon", "coupon is longer than 64 characters")
    subs: list[str | None] = []
    for i in range(1, 6):
        names = (f"adv_sub{i}", f"adv{i}") if i > 1 or dialect == "native" else ("adv_sub1",)
        v = _pick(params, names)
        subs.append(v[:255] if v else None)
    return Postback(txn, click, goal, amount, raw is not None, currency, status, coupon, adv,
                    get["token"], subs)  # fmt: skip
