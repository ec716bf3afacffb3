"""Checked clicks → COPY text rows in the column order below.

Formatting text ourselves is the fast path (asyncpg's binary
``copy_records_to_table`` is bound by the client at about 73k rows/s; a
pre-formatted ``copy_to_table`` reached 117k). Enrichment arrives as
ready-made blocks (ingest.clicks.enrich), so a row is one f-string; the values
that come from the visitor are checked in one scan and escaped only when
they hold a tab, a newline, a backslash or a control character.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import orjson

from ingest.clicks.copytext import NULL, escape, needs_escape
from ingest.clicks.parse import Wire

CLICK_COLUMNS = (
    "click_id", "created_at", "link_id", "link_code", "offer_id", "affiliate_id",
    "sub1", "sub2", "sub3", "sub4", "sub5", "sub6", "sub7", "sub8", "sub9", "sub10",
    "source", "params", "referer", "referer_domain",
    "ip_trunc", "ip_hash", "country", "region", "city",  # Enricher.ip_block
    "asn", "asn_org", "datacenter",  # … and its network part (migration 0040)
    "user_agent", "device", "os", "browser",  # Enricher.agent_block
    "route_id", "lander_id",  # a smart link's route, the offer's lander (migration 0080)
    "traffic_rule", "click_class", "is_unique",
)  # fmt: skip
# An impression is stored as a click is (the pixel's hit carries the same fields), less
# the unique verdict: reports group and filter both alike (migration 0070).
IMPRESSION_COLUMNS = ("impression_id", *CLICK_COLUMNS[1:-1])
# The referer's host: a scheme, "//", no user info, then host characters (ASCII: browsers
# send IDN hosts as punycode) up to a port, a path, a query, a fragment or the end. The SQL
# function referer_domain() of migration 0070 applies the same pattern.
_REFERER_HOST = re.compile(
    r"[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@]*@)?([A-Za-z0-9._-]{1,253})(?:[:/?#]|\Z)"
)

_NULLS = [NULL] * 10
_NO_SUBS = "\t".join(_NULLS)
_NO_CHOICE = f"{NULL}\t{NULL}"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC).date()
_days: dict[int, date] = {}
_seconds: dict[int, str] = {}


def day_of(ts: float) -> date:
    n = int(ts // 86400)
    d = _days.get(n)
    if d is None:
        d = _days[n] = _EPOCH + timedelta(days=n)
    return d


def second_text(sec: int) -> str:
    """Unix seconds → 'YYYY-MM-DD HH:MM:SS' (UTC), cached."""
    base = _seconds.get(sec)
    if base is None:
        if len(_seconds) > 100_000:
            _seconds.clear()
        base = _seconds[sec] = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(sec))
    return base


def ts_text(ts: float) -> str:
    """Unix seconds → timestamptz text, microsecond precision (seconds cached)."""
    sec, us = divmod(round(ts * 1_000_000), 1_000_000)
    return f"{second_text(sec)}.{us:06d}+00"


def referer_domain(referer: str) -> str | None:
    """The referer's host in lower case, or None (no referer, or not an http(s)-like URL)."""
    m = _REFERER_HOST.match(referer)
    return m.group(1).lower() if m else None


def domain_text(referer: str) -> str:
    """``referer_domain`` as a COPY field (its characters never need escaping)."""
    return (referer_domain(referer) or NULL) if referer else NULL


def own_fields(c: Wire) -> str:
    """The click's own columns (click_id … referer_domain) as COPY text, escaped where
    needed."""
    subs: Sequence[str | None] = c.subs
    code, source, referer = c.link_code, c.source, c.referer
    params = orjson.dumps(c.params).decode() if c.params else ""
    plain = [s for s in subs if s]
    if needs_escape(f"{code}{source}{referer}{params}{''.join(plain)}"):
        code, source, referer, params = (
            escape(code),
            escape(source),
            escape(referer),
            escape(params),
        )
        subs = [escape(s) if s else s for s in subs]
    if subs:
        sub_text = "\t".join([s or NULL for s in subs] + _NULLS[len(subs) :])
    else:
        sub_text = _NO_SUBS
    link = c.link_id
    return (
        f"{c.click_id}\t{ts_text(c.ts)}\t{NULL if link is None else link}\t{code or NULL}\t"
        f"{c.offer_id}\t{c.aff_id}\t{sub_text}\t{source or NULL}\t{params or NULL}\t"
        f"{referer or NULL}\t{domain_text(c.referer)}"
    )


def click_row(c: Wire, ip_block: str, agent_block: str, cls: str, unique: bool) -> str:
    return (f"{own_fields(c)}\t{ip_block}\t{agent_block}\t{choice_text(c)}\t"
            f"{rule_text(c.rule)}\t{cls}\t{'t' if unique else 'f'}")  # fmt: skip


def choice_text(c: Wire) -> str:
    """``route_id, lander_id`` as COPY text (issue 20; NULL on most clicks)."""
    route, lander = c.route, c.lander
    if route is None and lander is None:
        return _NO_CHOICE
    return f"{NULL if route is None else route}\t{NULL if lander is None else lander}"


def rule_text(rule: str) -> str:
    """The traffic rule that blocked or flagged a click, as COPY text."""
    return escape(rule) if rule else NULL


def impression_row(c: Wire, ip_block: str, agent_block: str, cls: str) -> str:
    return (f"{own_fields(c)}\t{ip_block}\t{agent_block}\t{choice_text(c)}\t"
            f"{rule_text(c.rule)}\t{cls}")  # fmt: skip
