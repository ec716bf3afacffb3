"""The wire format: packed click entries, bad clicks isolated inside good entries."""

from __future__ import annotations

import orjson

from ingest.clicks import parse_entries
from schemas.events import WIRE_VERSION


def _click(i: int) -> dict[str, object]:
    return {"click_id": f"01900000-0000-7000-8000-{i:012d}", "ts": 1_790_000_000.5 + i, "link_id": 1,
            "link_code": "abc", "offer_id": 2, "aff_id": 3, "subs": ["a", None], "ip": "1.2.3.4",
            "ua": "Mozilla", "referer": "", "cls": "human"}  # fmt: skip


def test_a_bad_click_is_isolated_from_its_entry() -> None:
    good = [_click(i) for i in range(3)]
    bad = {**_click(9), "offer_id": "seven"}
    entries = [
        (b"1-0", {b"v": WIRE_VERSION.encode(), b"clicks": orjson.dumps([good[0], bad, good[1]])}),
        (b"2-0", {b"v": WIRE_VERSION.encode(), b"clicks": orjson.dumps([good[2]])}),
        (b"3-0", {b"v": b"0", b"clicks": b"[]"}),
        (b"4-0", {b"v": WIRE_VERSION.encode(), b"clicks": b'{"a": 1}'}),
    ]
    parsed = parse_entries(entries)
    assert [str(c.click_id)[-1] for c in parsed.clicks] == ["0", "1", "2"]
    assert parsed.entry_ids == ["1-0", "2-0", "3-0", "4-0"]
    reasons = [(eid, reason.split(":")[0]) for eid, reason, _ in parsed.rejects]
    assert reasons == [("1-0", "invalid"), ("3-0", "version"), ("4-0", "json")]
    assert "offer_id" in parsed.rejects[0][1]
    assert parsed.clicks[0].ts.tzinfo is not None
