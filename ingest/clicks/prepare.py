"""Checked clicks → a batch ready for Postgres: COPY text and the batch's rollup.

This is where the worker spends its CPU (the process is bound by it), so the
common click is done in one loop with no call per click: the timestamp text
is cached per second, the address and agent blocks come from the enricher's
caches, and a click's own values are written as they are, then checked in one
regex pass over the row. A row that holds a character COPY text must escape
(or a batch whose payload held a ``\\u0001``, which would read as NULL) is
made again by the careful ``click_row``. The counts of the rollups are one
``Counter`` of small keys, turned into rollup rows once per batch.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from itertools import compress

import asyncpg
import orjson

from ingest.clicks.copytext import NULL
from ingest.clicks.enrich import Enricher
from ingest.clicks.parse import Wire
from ingest.clicks.rows import (
    choice_text,
    day_of,
    domain_text,
    impression_row,
    own_fields,
    rule_text,
    second_text,
)
from ingest.clicks.unique import UniqueJudge
from tracker.domain.classify import CLASSES
from tracker.domain.counted import PAID_CLASSES, is_click, is_paid
from tracker.store.reports import rollups

# Clicks prepared between two turns of the event loop: the writer task feeds Postgres the
# batch before (COPY data, the rollup, COMMIT) meanwhile; without the turns it waited for the
# whole batch to be prepared (measured: 79% → 90% of a core busy, +9% rows/s).
CHUNK = 500
_OWN_TABS = 19  # click_id … referer_domain: 20 fields
_TAB = "\t"
_NO_SUBS = _TAB.join([NULL] * 10)
_TAILS = [_NO_SUBS] + [(_TAB + NULL) * (10 - k) for k in range(1, 11)]  # after k subs
_VERDICT = ("f\n", "t\n")
_EPOCH = date(1970, 1, 1)
# Timestamps (quarter, day, text) by the wire's float, subs texts by value, shared by batches (bounded):
# clicks of one millisecond share a timestamp, and sub values repeat per campaign.
_STAMPS: dict[float, tuple[int, int, str]] = {}
_SUBS: dict[tuple[str | None, ...], str] = {}
_DOMAINS: dict[str, str] = {}  # referer → its host as COPY text (rows.domain_text)

# quarter start (unix s), offer, partner, class
Key = tuple[int, int, int, str]


@dataclass
class Prepared:
    """A batch ready for Postgres: COPY text for each table and the batch's rollup."""

    clicks: int = 0
    impressions: int = 0
    click_text: bytes = b""
    impression_text: bytes = b""
    days: set[date] = field(default_factory=set)
    spans: rollups.QuarterCounts = field(default_factory=rollups.QuarterCounts)

    @property
    def rows(self) -> int:
        return self.clicks + self.impressions


@dataclass
class _Rows:
    """What the loop makes: the click COPY text in pieces (a row, then its verdict), the
    slots of the verdicts still to come, and the rollup keys."""

    parts: list[str] = field(default_factory=list)
    slots: list[int] = field(default_factory=list)  # parts[slot] ← verdict, judged order
    keys: list[Key] = field(default_factory=list)  # every click
    judged_keys: list[Key] = field(default_factory=list)  # judged clicks, judged order
    impressions: list[str] = field(default_factory=list)
    impression_keys: list[Key] = field(default_factory=list)


def _when(ts: float) -> tuple[int, int, str]:
    """A wire timestamp → (its quarter's start, its day number, its COPY text), all from
    the microsecond the text shows (rounded half to even, as rows.ts_text)."""
    n = round(ts * 1_000_000)
    sec = n // 1_000_000
    return sec - sec % 900, sec // 86400, f"{second_text(sec)}.{n % 1_000_000:06d}+00"


async def prepare(events: list[Wire], enricher: Enricher, judge: UniqueJudge,
                  pool: asyncpg.Pool, *, controls: bool = True) -> Prepared:  # fmt: skip
    """events: checked clicks (ingest.clicks.parse.parse_wire); ``controls``: a payload of the
    batch may hold a control character (ParsedWire.controls), so check every row."""
    out = Prepared()
    if not events:
        return out
    # Only a paid (human) click takes the visitor's unique slot (tracker.domain.counted).
    judged = [c for c in events if c.kind == "click" and is_paid(c.cls)]
    # The verdicts are computed in Redis while the rows are made here.
    judging = asyncio.ensure_future(judge.judge(judged))
    for _ in range(3):
        await asyncio.sleep(0)  # let the judge send its commands
    try:
        rows = await _rows(events, enricher, pool, controls, out.days)
    except BaseException:
        judging.cancel()
        raise
    verdicts = await judging
    parts = rows.parts
    for slot, verdict in zip(rows.slots, verdicts, strict=True):
        parts[slot] = _VERDICT[verdict]
    out.clicks, out.impressions = len(rows.keys), len(rows.impressions)
    if parts:
        out.click_text = "".join(parts).encode()
    if rows.impressions:
        out.impression_text = ("\n".join(rows.impressions) + "\n").encode()
    _count(out, rows, Counter(compress(rows.judged_keys, verdicts)))
    return out


async def _rows(events: list[Wire], enricher: Enricher, pool: asyncpg.Pool, controls: bool,
                days: set[date]) -> _Rows:  # fmt: skip
    out = _Rows()
    parts, slots, keys, judged_keys = out.parts, out.slots, out.keys, out.judged_keys
    new_ip, new_agent, salts = enricher.new_ip, enricher.new_agent, enricher.salts
    stamps, subs_texts, domains = _STAMPS, _SUBS, _DOMAINS
    for lo in range(0, len(events), CHUNK):
        if lo:
            await asyncio.sleep(0)
        if len(stamps) > 100_000:
            stamps.clear()
        if len(subs_texts) > 50_000:
            subs_texts.clear()
        if len(domains) > 50_000:
            domains.clear()
        day_n, day, ips = -1, _EPOCH, {}
        agents = {cls: enricher.agents(cls) for cls in CLASSES}
        for c in events[lo : lo + CHUNK]:
            when = stamps.get(c.ts)
            if when is None:
                when = stamps[c.ts] = _when(c.ts)
            quarter, this_day, stamp = when
            if this_day != day_n:
                day_n = this_day
                day = day_of(day_n * 86400)
                if day not in days:
                    days.add(day)
                    await salts.load(pool, days)
                ips = enricher.ips(day)
            ip = c.ip
            ipb = ips.get(ip) or new_ip(ip, day, ips)
            cls = c.cls
            agb = agents[cls].get(c.ua) or new_agent(c.ua, cls)
            key = (quarter, c.offer_id, c.aff_id, agb[1])
            if c.kind != "click":
                out.impressions.append(impression_row(c, ipb[0], agb[0], agb[1]))
                out.impression_keys.append(key)
                continue
            keys.append(key)
            subs = c.subs
            sub_text = subs_texts.get(subs)
            if sub_text is None:
                sub_text = _TAB.join([s or NULL for s in subs]) + _TAILS[len(subs)]
                subs_texts[subs] = sub_text
            link = c.link_id
            params = orjson.dumps(c.params).decode() if c.params else NULL
            referer = c.referer
            domain = domains.get(referer)
            if domain is None:
                domain = domains[referer] = domain_text(referer)
            own = (
                f"{c.click_id}\t{stamp}\t{NULL if link is None else link}\t{c.link_code or NULL}\t"
                f"{c.offer_id}\t{c.aff_id}\t{sub_text}\t{c.source or NULL}\t{params}\t"
                f"{referer or NULL}\t{domain}"
            )
            if (
                controls or "\\" in own or "\n" in own or "\r" in own or "\x00" in own
                or own.count(_TAB) != _OWN_TABS
            ):  # fmt: skip
                own = own_fields(c)  # the careful way: escape what must be
            rule = rule_text(c.rule) if c.rule else NULL
            parts.append(f"{own}\t{ipb[0]}\t{agb[0]}\t{choice_text(c)}\t{rule}\t{agb[1]}\t")
            if cls not in PAID_CLASSES:
                parts.append(_VERDICT[False])
            else:
                slots.append(len(parts))
                parts.append("")
                judged_keys.append(key)
    return out


def _count(out: Prepared, rows: _Rows, unique: Counter[Key]) -> None:
    """The batch's rollup from its keys: counts per quarter hour for rollup_spans."""
    quarters = out.spans.counts
    for kind, counted in ((0, Counter(rows.keys)), (1, Counter(rows.impression_keys))):
        for key, n in counted.items():
            q, offer, aff, cls = key
            counted_n = n if is_click(cls) else 0
            if kind:
                add = [0, 0, 0, 0, counted_n]
            else:
                human = n if is_paid(cls) else 0
                add = [counted_n, unique[key], human, counted_n - human, 0]
            acc = quarters[(q, aff, offer)]
            for i in range(5):
                acc[i] += add[i]
