"""The partner-postback outbox, written in the same transaction as the conversion
event it announces (creation, approval, reversal), by the worker or the API alike.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson

from tracker.domain.partner_render import ConversionFacts, render
from tracker.settings import get_settings

EVENTS = ("created", "approved", "reversed")

_MATCHING = """
SELECT id, url_template, method FROM partner_postbacks
 WHERE active AND affiliate_id = $1 AND $2 = ANY(events)
   AND (offer_id IS NULL OR offer_id = $3) AND (goal IS NULL OR goal = $4)
"""

_CLICK = """
SELECT sub1, sub2, sub3, sub4, sub5, sub6, sub7, sub8, sub9, sub10, source, params
  FROM clicks WHERE click_id = $1 AND created_at = $2
"""

_INSERT = """
INSERT INTO postback_outbox (id, postback_id, affiliate_id, conversion_id, event, method, url, body,
                             next_attempt_at, deliver_until, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $9)
ON CONFLICT (postback_id, conversion_id, event) DO NOTHING
"""


async def announce(
    conn: asyncpg.Connection, conversion: Any, event: str, *, status: str | None = None,
    now: datetime | None = None,
) -> int:  # fmt: skip
    """Queue one delivery per matching partner setting for this conversion event;
    idempotent per (setting, conversion, event). Returns how many were queued."""
    aff, offer = conversion["affiliate_id"], conversion["offer_id"]
    if aff is None or offer is None:
        return 0
    settings = await conn.fetch(_MATCHING, aff, event, offer, conversion["goal"])
    if not settings:
        return 0
    click = None
    if conversion["click_id"] is not None:
        click = await conn.fetchrow(_CLICK, conversion["click_id"], conversion["click_at"])
    facts = ConversionFacts(
        conversion_id=str(conversion["conversion_id"]), txn_id=conversion["txn_id"],
        goal=conversion["goal"], status=status or conversion["status"], payout=conversion["payout"],
        currency=conversion["offer_currency"] or conversion["currency"], offer_id=offer,
        aff_id=aff, click_id=str(conversion["click_id"]) if conversion["click_id"] else None,
        created_at=conversion["created_at"],
        subs=tuple(click[f"sub{i}"] for i in range(1, 11)) if click else (),
        source=click["source"] if click else None,
        params=orjson.loads(click["params"]) if click and click["params"] else None,
    )  # fmt: skip
    now = now or datetime.now(UTC)
    window = timedelta(seconds=get_settings().postback_retry_window_s)
    queued = 0
    for row in settings:
        url, body = render(row["url_template"], row["method"], facts)
        result = await conn.execute(
            _INSERT, uuid.uuid4(), row["id"], aff, conversion["conversion_id"], event,
            row["method"], url, body, now, now + window,
        )  # fmt: skip
        queued += result.endswith(" 1")
    return queued
