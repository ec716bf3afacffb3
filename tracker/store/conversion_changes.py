"""Changes to a stored conversion, each through the one path (price → screen → store):
a merchant's status or amount (postback or API), an admin override, a currency rate that
arrives. The caller holds the conversion's locks (``conversion_rows.lock``) in its
transaction (docs/adr/0080, 0081)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg

from tracker.domain.conversion_status import overridable
from tracker.store import conversion_rows as rows
from tracker.store import offer_rules
from tracker.store.conversion_path import (
    Draft,
    counted_payout,
    finish,
    price_draft,
    screen,
    update,
)
from tracker.store.offer_rules import OfferRules


class Refused(Exception):
    """A change the tracker will not make: (HTTP status, code, message)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class Amendment:
    amount: Decimal
    currency: str | None  # None: in the currency the conversion was sent in


async def rules_of(conn: asyncpg.Connection, row: Any) -> OfferRules | None:
    if row["offer_id"] is None or row["affiliate_id"] is None:
        return None
    return await offer_rules.load(conn, row["offer_id"], row["goal"], row["affiliate_id"])


async def change(
    conn: asyncpg.Connection, row: Any, rules: OfferRules | None, *, merchant: str | None,
    merchant_at: datetime | None, at: datetime, actor: str, why: str,
    amendment: Amendment | None = None, reprice: bool = False,
    record: tuple[str, dict[str, Any]] | None = None,
) -> Any:  # fmt: skip
    """The new state of a locked row: ``merchant`` (a new merchant status, or None),
    ``amendment`` (a new amount, re-priced with the rules of the conversion's time), then
    the screen. ``why`` is the reason a merchant-set status carries."""
    d = Draft.of_row(row)
    held_before, payout_before = list(d.caps_used), counted_payout(row)
    if merchant is not None:
        d.merchant_status = merchant
    if merchant_at is not None:
        d.merchant_at = merchant_at
    note = None
    if amendment is not None:
        old = f"{d.amount:.4f} {d.currency}"
        d.amount = amendment.amount
        d.currency = amendment.currency or d.currency
        note = f"amended: amount {old} -> {d.amount:.4f} {d.currency}"
        d.decision.setdefault("amendments", []).append(
            {"at": at.isoformat(), "by": actor, "from": old, "to": f"{d.amount} {d.currency}",
             "payout_before": str(row["payout"]), "revenue_before": str(row["revenue"])}
        )  # fmt: skip
    if rules is not None and d.attributed and (amendment or reprice or not d.priced):
        await price_draft(conn, rules, d)
    if record is not None:
        d.decision.setdefault(record[0], []).append(record[1])
    await screen(conn, rules, d, held_before, payout_before)
    same = d.status == row["status"] and d.status_reason is None
    finish(d, row["status_reason"] if same and merchant is None else why)
    return await update(conn, row, d, actor=actor, at=at, note=note)


async def set_status(
    conn: asyncpg.Connection, row: Any, status: str, *, actor: str, reason: str | None,
    at: datetime | None = None,
) -> Any:  # fmt: skip
    """A status from the API (an advertiser's or an admin's key): it may move either way,
    and goes through the screen like a postback (a gate stands, caps are taken again)."""
    now = at or datetime.now(UTC)
    return await change(conn, row, await rules_of(conn, row), merchant=status, merchant_at=now,
                        at=now, actor=actor, why=reason or "api")  # fmt: skip


async def override(
    conn: asyncpg.Connection, row: Any, status: str, *, actor: str, reason: str
) -> Any:
    """An admin's decision over the tracker's: waives the standing gate and takes
    ``status``; refused when the tracker cannot pay it (no partner, no rate, a full cap)."""
    gate = row["gate"]
    what = gate or (row["status_reason"] if row["status"] in ("held", "rejected") else None)
    if what not in ("cap", "no_rate") and gate is None:
        raise Refused(409, "nothing_to_override",
                      "the tracker did not hold or reject this conversion")  # fmt: skip
    if gate is not None and not overridable(gate):
        raise Refused(409, "not_overridable", f"{gate}: no partner to pay for this conversion")
    if what == "no_rate":
        raise Refused(409, "no_rate", "no currency rate at the conversion's time: add it with "
                      "PUT /api/v1/currency-rates, which re-prices the conversion")  # fmt: skip
    now = datetime.now(UTC)
    entry = {"by": actor, "at": now.isoformat(), "gate": what, "status": status,
             "reason": reason}  # fmt: skip
    rules = await rules_of(conn, row)
    dropped = {**dict(row), "gate": None}
    out = await change(conn, dropped, rules, merchant=status, merchant_at=now, at=now,
                       actor=actor, why=f"override: {what}: {reason}", reprice=True,
                       record=("overrides", entry))  # fmt: skip
    if out["status"] != status:
        raise Refused(409, "cap_full" if out["status_reason"] == "cap" else "refused",
                      f"the conversion would be {out['status']} ({out['status_reason']}): "
                      "raise or archive the full cap first")  # fmt: skip
    return out


_NO_RATE = """
SELECT conversion_id FROM conversions
 WHERE status = 'held' AND status_reason = 'no_rate' AND currency = $1 AND offer_currency = $2
   AND created_at >= $3
 ORDER BY created_at LIMIT $4
"""


async def reprice_no_rate(
    pool: asyncpg.Pool, base: str, quote: str, since: datetime, *, actor: str, limit: int
) -> int:
    """Conversions held for want of this rate (at or after ``since``), priced and screened
    now, each in its own transaction; how many changed."""
    done = 0
    for cid in [r["conversion_id"] for r in await pool.fetch(_NO_RATE, base, quote, since, limit)]:
        async with pool.acquire() as conn, conn.transaction():
            row = await rows.lock(conn, cid)
            if row is None or (row["status"], row["status_reason"]) != ("held", "no_rate"):
                continue  # changed meanwhile
            out = await change(conn, row, await rules_of(conn, row), merchant=None,
                               merchant_at=None, at=datetime.now(UTC), actor=actor,
                               why=f"priced: rate {base}/{quote} added")  # fmt: skip
            done += out["status"] != "held" or out["status_reason"] != "no_rate"
    return done
