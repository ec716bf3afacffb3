"""NDJSON exports are made by Postgres: the same objects as rows encoded in Python."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import orjson

from ingest.partitions import create
from tracker.api.routes.exports import _encode
from tracker.store.exports import (
    CLICK_COLUMNS,
    CONVERSION_COLUMNS,
    IMPRESSION_COLUMNS,
    stream_ndjson,
    stream_rows,
)


async def test_ndjson_from_postgres_equals_rows_encoded_in_python(pool: asyncpg.Pool) -> None:
    adv = await pool.fetchval(
        "INSERT INTO advertisers (name, postback_token) VALUES ('e', 't') RETURNING id"
    )
    aff = await pool.fetchval("INSERT INTO affiliates (name) VALUES ('e') RETURNING id")
    offer = await pool.fetchval("INSERT INTO offers (advertiser_id, name, landing_url) VALUES "
                                "($1, 'e', 'https://x.example/') RETURNING id", adv)  # fmt: skip
    t0 = datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC)
    await create(pool, "clicks", t0.date())
    await create(pool, "impressions", t0.date())
    odd = ['quote " back \\ tab \t nl \n', "ünï €", None, "<script>", ""]
    for i, text in enumerate(odd):
        at = t0 + timedelta(microseconds=i * 250_001 if i else 0)
        cid = uuid.uuid4()
        params = None if text is None else orjson.dumps({"k": text, "n\u00e9": "1"}).decode()
        for table, key, unique in (("clicks", "click_id", ", is_unique"),
                                   ("impressions", "impression_id", "")):  # fmt: skip
            await pool.execute(
                f"INSERT INTO {table} ({key}, created_at, offer_id, affiliate_id, link_code, sub1,"
                f" sub10, source, ip_trunc, user_agent, referer, params{unique}) VALUES ($1, $2,"
                f" $3, $4, $5, $5, $5, $5, $6, $5, $5, $7::jsonb{', $8' if unique else ''})",
                cid, at, offer, aff, text, "10.1.2.0" if i % 2 else "2001:db8::", params,
                *([i % 2 == 0] if unique else []))  # fmt: skip
        await pool.execute(
            "INSERT INTO conversions (conversion_id, advertiser_id, txn_id, click_id, click_at, "
            "offer_id, affiliate_id, status, status_reason, amount, revenue, payout, created_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, 'approved', $8, $9, $10, $11, $5)",
            uuid.uuid4(), adv, f"x{i}-{cid}", cid, at, offer, aff, text, Decimal("12.3456"),
            Decimal(i), Decimal("-0.0100"))  # fmt: skip
    span = (t0 - timedelta(seconds=1), t0 + timedelta(seconds=5))
    for table, cols in (("clicks", CLICK_COLUMNS), ("impressions", IMPRESSION_COLUMNS),
                        ("conversions", CONVERSION_COLUMNS)):  # fmt: skip
        fast = b"".join(
            [c async for c in stream_ndjson(pool, table, cols, *span, affiliate_id=aff)]
        )
        slow = [
            # params: its JSON text in CSV, an object in NDJSON
            {c: orjson.loads(v) if c == "params" and v else _encode(v)
             for c, v in zip(cols, row, strict=True)}
            async for rows in stream_rows(pool, table, cols, *span, affiliate_id=aff)
            for row in rows
        ]  # fmt: skip
        got = [orjson.loads(line) for line in fast.splitlines()]
        assert len(got) == len(odd) and got == slow, (table, got[:2], slow[:2])
        if table != "conversions":
            assert [g["params"] for g in got] == [
                None if t is None else {"k": t, "n\u00e9": "1"} for t in odd
            ]
