"""Conversion entries → rows, attributed to their click, exactly once.

Thin for now: attribution by click id only, revenue and payout from the
offer's defaults. One conversion per (advertiser, goal, transaction id);
the rollup follows only rows this transaction inserted.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import asyncpg
import orjson
from pydantic import ValidationError

from ingest.postbacks.outbox import enqueue
from schemas.events import ConversionEvent
from tracker import metrics
from tracker.domain.ids import uuid7_time_ms
from tracker.domain.postback_render import ConversionFacts

_FIND_CLICK = """
SELECT c.click_id, c.created_at, c.offer_id, c.affiliate_id, c.click_class, c.country, c.device,
       c.sub1, c.sub2, c.sub3, c.sub4, c.sub5, c.sub6, c.sub7, c.sub8, c.sub9, c.sub10,
       c.source, c.params, o.advertiser_id, o.default_payout, o.default_revenue, o.currency
  FROM clicks c JOIN offers o ON o.id = c.offer_id
 WHERE c.click_id = $1 AND c.created_at >= $2 AND c.created_at < $3
"""

_INSERT = """
INSERT INTO conversions (conversion_id, advertiser_id, goal, txn_id, click_id, click_at, offer_id,
                         affiliate_id, status, status_reason, amount, currency, revenue, payout,
                         decision, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
ON CONFLICT (advertiser_id, goal, txn_id) DO NOTHING
RETURNING conversion_id
"""

_ROLLUP = """
INSERT INTO rollup_hourly AS r (hour, offer_id, affiliate_id, click_class, country, device,
                                conversions, revenue, payout)
VALUES (date_trunc('hour', $1::timestamptz), $2, $3, $4, $5, $6, 1, $7, $8)
ON CONFLICT (hour, offer_id, affiliate_id, click_class, country, device) DO UPDATE
   SET conversions = r.conversions + 1, revenue = r.revenue + EXCLUDED.revenue,
       payout = r.payout + EXCLUDED.payout
"""


def parse_conversion(fields: dict[bytes, bytes]) -> ConversionEvent:
    """Raise ValueError with a reason when the entry cannot be processed."""
    payload = fields.get(b"conversion", b"")
    try:
        ev = ConversionEvent.model_validate_json(payload)
        Decimal(ev.amount)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ValueError(f"invalid: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    except InvalidOperation:
        raise ValueError("invalid: amount: not a decimal number") from None
    return ev


class ConversionWriter:
    def __init__(self, pool: asyncpg.Pool, postback_window: timedelta = timedelta(days=1)) -> None:
        self._pool = pool
        self._postback_window = postback_window

    async def write(self, events: list[ConversionEvent]) -> int:
        inserted = 0
        async with self._pool.acquire() as conn, conn.transaction():
            for ev in events:
                inserted += await self._one(conn, ev)
        metrics.ROWS_INGESTED.labels("conversions").inc(inserted)
        metrics.ROWS_DUPLICATE.labels("conversions").inc(len(events) - inserted)
        return inserted

    async def _one(self, conn: asyncpg.Connection, ev: ConversionEvent) -> int:
        click: Any = None
        if ev.click_id is not None:
            at = datetime.fromtimestamp(uuid7_time_ms(ev.click_id) / 1000, UTC)
            click = await conn.fetchrow(
                _FIND_CLICK, ev.click_id, at - timedelta(days=1), at + timedelta(days=1)
            )
            if click is not None and click["advertiser_id"] != ev.advertiser_id:
                click = None  # another advertiser's click: never attribute across tenants
        decision: dict[str, Any] = {"method": "click_id" if click else "none"}
        if click is None:
            status, reason = "pending", "click_not_found"
            revenue = payout = Decimal(0)
        else:
            status, reason = ev.status, None
            revenue, payout = click["default_revenue"], click["default_payout"]
            decision.update(click_id=str(click["click_id"]), payout_rule="offer_default")
        cid = await conn.fetchval(
            _INSERT,
            ev.conversion_id,
            ev.advertiser_id,
            ev.goal,
            ev.txn_id,
            ev.click_id if click else None,
            click["created_at"] if click else None,
            click["offer_id"] if click else None,
            click["affiliate_id"] if click else None,
            status,
            reason,
            Decimal(ev.amount),
            ev.currency,
            revenue,
            payout,
            orjson.dumps(decision).decode(),
            ev.ts,
        )
        if cid is None:
            return 0
        if click is not None and status in ("pending", "approved"):
            await conn.execute(
                _ROLLUP, ev.ts, click["offer_id"], click["affiliate_id"], click["click_class"],
                click["country"], click["device"], revenue, payout,
            )  # fmt: skip
        if click is not None:
            # The partner's postbacks, in this same transaction (the outbox).
            facts = ConversionFacts(
                conversion_id=str(ev.conversion_id), txn_id=ev.txn_id, goal=ev.goal, status=status,
                payout=payout, currency=click["currency"], offer_id=click["offer_id"],
                aff_id=click["affiliate_id"], click_id=str(click["click_id"]), created_at=ev.ts,
                subs=tuple(click[f"sub{i}"] for i in range(1, 11)), source=click["source"],
                params=orjson.loads(click["params"]) if click["params"] else None,
            )  # fmt: skip
            now = datetime.now(UTC)
            for event in ("created", "approved") if status == "approved" else ("created",):
                await enqueue(conn, facts, event, now, self._postback_window)
        return 1
