"""The query parameters of the postback routes, for the OpenAPI document.

The intake reads several dialects' names for each value (``tracker/domain/incoming_params``),
from the query, a form or a JSON body; these are the query forms, with the rules the
parser enforces: the amount's format and maximum, the status words merchants may send
(case-insensitive), the goal's and currency's patterns.
"""

from __future__ import annotations

from typing import Any

from tracker.domain.conversion_status import ALIASES
from tracker.domain.incoming_params import AMOUNT_PATTERN

_STATUS_DOC = "; ".join(
    f"{status}: " + ", ".join(f"`{w}`" for w in sorted(ALIASES) if ALIASES[w] == status)
    for status in ("approved", "pending", "rejected", "reversed")
)


def _param(name: str, schema: dict[str, Any], doc: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": doc}


def _alias(names: tuple[str, ...], schema: dict[str, Any], doc: str) -> list[dict[str, Any]]:
    first, *rest = names
    also = f" (the first of `{'`, `'.join(names)}` present is read)" if rest else ""
    return [_param(n, schema, (doc if n == first else f"alias of `{first}`") + also) for n in names]


def parameters(dialect: str) -> list[dict[str, Any]]:
    text = {"type": "string", "maxLength": 255}
    hasoffers = dialect == "hasoffers"
    txn = ("adv_sub", "txn_id", "order_id") if hasoffers else ("txn_id", "txid", "order_id",
                                                               "adv_sub")  # fmt: skip
    out = [
        *_alias(("advertiser_id", "adv_id", "aid"), {"type": "integer"}, "the advertiser's id"),
        *_alias(("token", "security_token", "key"), text, "the advertiser's postback token"),
        *_alias(("click_id", "cid", "transaction_id", "clickid", "subid"),
                {"type": "string", "format": "uuid"}, "the click id the landing URL received"),
        *_alias(txn, text, "the merchant's order id; a repeat with the same id is the same "
                "conversion (default: the click id)"),
        *_alias(("goal", "et", "event_id", "goal_id", "event"),
                {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"}, "goal code (default: default)"),
        *_alias(("amount", "payout", "sale_amount", "revenue"),
                {"type": "string", "pattern": AMOUNT_PATTERN},
                "sale amount, 0 to 999999999.9999, at most 4 decimals; for a known txn_id a "
                "new amount amends the conversion (re-priced; an amount it had before is a "
                "replay and changes nothing); leave it out for a status change"),
        *_alias(("currency", "cur"), {"type": "string", "pattern": "^[A-Za-z]{3}$"},
                "ISO 4217 code of the amount (default: the offer's currency)"),
        _param("status", {"type": "string", "enum": sorted(ALIASES)},
               "the merchant's status, case-insensitive (default: approved); " + _STATUS_DOC
               + ". A postback only moves a status forward (pending → approved → "
               "rejected/reversed); to undo a final one use POST /api/v1/conversions/{id}/status"),
        *_alias(("coupon", "coupon_code", "promo_code"), {"type": "string", "maxLength": 64},
                "promo code (attributes without a click)"),
    ]  # fmt: skip
    for i in range(1, 6):
        names = (f"adv_sub{i}", f"adv{i}") if i > 1 or not hasoffers else ("adv_sub1",)
        out += _alias(names, {"type": "string"}, f"merchant's sub-id {i} (kept, cropped to 255)")
    return out
