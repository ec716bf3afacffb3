"""Click entries → rows in Postgres, exactly once.

One transaction per batch: COPY into a temporary staging table, then
``INSERT … ON CONFLICT DO NOTHING RETURNING`` into ``clicks`` and, in the
same statement, the hourly rollup from the returned rows only. A replayed
batch inserts nothing and therefore counts nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date
from typing import Any

import asyncpg
import orjson
from pydantic import ValidationError

from ingest.enrich import UniqueJudge, truncate_ip
from ingest.partitions import Partitions
from schemas.events import CLICK_LIST, WIRE_VERSION, ClickEvent
from tracker import metrics

COLUMNS = (
    "click_id", "created_at", "link_id", "link_code", "offer_id", "affiliate_id",
    "sub1", "sub2", "sub3", "sub4", "sub5", "sub6", "sub7", "sub8", "sub9", "sub10",
    "source", "params", "ip_trunc", "user_agent", "referer",
    "country", "device", "click_class", "is_unique",
)  # fmt: skip

_STAGE = """CREATE TEMP TABLE IF NOT EXISTS clicks_stage
            (LIKE clicks INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"""

_INSERT = f"""
WITH ins AS (
    INSERT INTO clicks ({", ".join(COLUMNS)})
    SELECT {", ".join(COLUMNS)} FROM clicks_stage
    ON CONFLICT DO NOTHING
    RETURNING created_at, offer_id, affiliate_id, click_class, country, device, is_unique
), roll AS (
    INSERT INTO rollup_hourly AS r (hour, offer_id, affiliate_id, click_class, country, device,
                                    gross_clicks, unique_clicks, human_clicks, bot_clicks)
    SELECT date_trunc('hour', created_at), offer_id, affiliate_id, click_class, country, device,
           count(*) FILTER (WHERE click_class <> 'head'),
           count(*) FILTER (WHERE is_unique),
           count(*) FILTER (WHERE click_class = 'human'),
           count(*) FILTER (WHERE click_class IN ('bot', 'preview', 'prefetch'))
      FROM ins GROUP BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (hour, offer_id, affiliate_id, click_class, country, device) DO UPDATE
       SET gross_clicks = r.gross_clicks + EXCLUDED.gross_clicks,
           unique_clicks = r.unique_clicks + EXCLUDED.unique_clicks,
           human_clicks = r.human_clicks + EXCLUDED.human_clicks,
           bot_clicks = r.bot_clicks + EXCLUDED.bot_clicks
)
SELECT count(*) FROM ins
"""


@dataclass
class Parsed:
    clicks: list[ClickEvent] = field(default_factory=list)
    entry_ids: list[str] = field(default_factory=list)
    # (entry id, reason, payload) of what cannot be processed
    rejects: list[tuple[str, str, bytes]] = field(default_factory=list)


def parse_entries(entries: list[tuple[bytes, dict[bytes, bytes]]]) -> Parsed:
    """Decode packed entries; isolate bad entries and bad clicks inside good ones."""
    out = Parsed()
    for raw_id, fields in entries:
        entry_id = raw_id.decode()
        out.entry_ids.append(entry_id)
        version = fields.get(b"v")
        payload = fields.get(b"clicks", b"")
        if version != WIRE_VERSION.encode():
            out.rejects.append((entry_id, f"version: unknown wire version {version!r}", payload))
            continue
        try:
            out.clicks.extend(CLICK_LIST.validate_json(payload))
            continue
        except ValidationError:
            pass
        try:
            items = orjson.loads(payload)
            if not isinstance(items, list):
                raise TypeError("clicks is not a list")
        except (orjson.JSONDecodeError, TypeError) as exc:
            out.rejects.append((entry_id, f"json: {exc}", payload))
            continue
        for item in items:
            try:
                out.clicks.append(ClickEvent.model_validate(item))
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                out.rejects.append(
                    (entry_id, f"invalid: {where}: {first['msg']}", orjson.dumps(item))
                )
    return out


def to_record(ev: ClickEvent, unique: bool) -> tuple[Any, ...]:
    subs = (list(ev.subs) + [None] * 10)[:10]
    created = ev.ts if ev.ts.tzinfo else ev.ts.replace(tzinfo=UTC)
    return (
        ev.click_id, created, ev.link_id, ev.link_code or None, ev.offer_id, ev.aff_id,
        *subs, ev.source or None, orjson.dumps(ev.params).decode() if ev.params else None,
        truncate_ip(ev.ip), ev.ua or None, ev.referer or None,
        "", "", ev.cls, unique,
    )  # fmt: skip


class ClickWriter:
    def __init__(self, pool: asyncpg.Pool, unique: UniqueJudge) -> None:
        self._pool = pool
        self._unique = unique
        self._partitions = Partitions()

    async def write(self, clicks: list[ClickEvent]) -> int:
        """Insert what is new; return how many rows this call inserted."""
        if not clicks:
            return 0
        days: set[date] = {c.ts.astimezone(UTC).date() for c in clicks}
        await self._partitions.ensure(self._pool, days)
        verdicts = await self._unique.judge(
            [(str(c.click_id), c.offer_id, c.ip, c.ua) for c in clicks if c.cls != "head"]
        )
        it = iter(verdicts)
        records = [to_record(c, c.cls != "head" and next(it)) for c in clicks]
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(_STAGE)
            await conn.copy_records_to_table("clicks_stage", records=records, columns=COLUMNS)
            inserted = int(await conn.fetchval(_INSERT))
        metrics.ROWS_INGESTED.labels("clicks").inc(inserted)
        metrics.ROWS_DUPLICATE.labels("clicks").inc(len(records) - inserted)
        return inserted
