"""Outbox rows, written in the same transaction as the conversion they announce."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import asyncpg

from tracker.domain.postback_render import ConversionFacts, render

EVENTS = ("created", "approved", "reversed")

_MATCHING = """
SELECT id, url_template, method FROM partner_postbacks
 WHERE active AND affiliate_id = $1 AND $2 = ANY(events)
   AND (offer_id IS NULL OR offer_id = $3) AND (goal IS NULL OR goal = $4)
"""

_INSERT = """
INSERT INTO postback_outbox (id, postback_id, affiliate_id, conversion_id, event, method, url, body,
                             next_attempt_at, deliver_until, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $9)
ON CONFLICT (postback_id, conversion_id, event) DO NOTHING
"""


async def enqueue(
    conn: asyncpg.Connection, facts: ConversionFacts, event: str, now: datetime, window: timedelta
) -> int:
    """Queue one delivery per matching partner setting; idempotent per
    (setting, conversion, event). Returns how many rows were queued."""
    queued = 0
    for row in await conn.fetch(_MATCHING, facts.aff_id, event, facts.offer_id, facts.goal):
        url, body = render(row["url_template"], row["method"], facts)
        status = await conn.execute(
            _INSERT, uuid.uuid4(), row["id"], facts.aff_id, uuid.UUID(facts.conversion_id), event,
            row["method"], url, body, now, now + window,
        )  # fmt: skip
        queued += status.endswith(" 1")
    return queued
