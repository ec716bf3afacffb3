"""The wire format: packed click entries, bad clicks isolated inside good entries."""

from __future__ import annotations

import msgspec
import orjson

from ingest.clicks.writer import parse_entries
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


def test_the_three_views_of_a_click_carry_the_same_fields_and_classes() -> None:
    """The schema defines the format; the worker decodes it with its own msgspec struct and
    the redirect builds it by hand (no model on the hot path): all three must agree."""
    from typing import get_args

    from ingest.clicks.parse import Wire
    from redirect.hit import Hit
    from schemas.events import ClickClass, ClickEvent

    schema = set(ClickEvent.model_fields)
    assert set(Wire.__struct_fields__) == schema
    scope = {"method": "GET", "headers": [(b"user-agent", b"Mozilla/5.0")], "query_string": b"",
             "client": ("1.2.3.4", 1)}  # fmt: skip
    built = Hit(scope, None).event("click", 1, "abc", 2, 3, ())
    assert set(built) == schema
    info = msgspec.inspect.type_info(Wire)
    cls = next(f.type for f in info.fields if f.name == "cls")  # type: ignore[attr-defined]
    assert set(cls.values) == set(get_args(ClickClass))
