"""The role x field table (tracker/domain/visibility.py) and its documentation."""

from __future__ import annotations

from pathlib import Path

from tracker.domain import visibility as table

DOC = Path(__file__).resolve().parents[2] / "docs" / "visibility.md"


def test_the_documented_table_is_the_enforced_one() -> None:
    assert DOC.read_text() == table.markdown(), (
        "docs/visibility.md differs from the table: python -m tracker.domain.visibility"
        " > docs/visibility.md"
    )


def test_reductions_never_pass_a_note_or_a_key_on() -> None:
    assert table.reason_code("fraud:ctc_too_short") == "fraud"
    assert table.reason_code("postback: status=rejected") == "postback"
    assert table.reason_code("cap") == "cap"
    assert table.reason_code("partner 7 sends bots, says Bob") == "other"
    assert table.reason_code(None) is None
    assert table.actor_kind("api:key42") == "api"
    assert table.actor_kind("postback") == "postback"
    assert table.actor_kind("worker") == "tracker"


def test_every_audience_column_is_consistent() -> None:
    for resource, fields in table.FIELDS.items():
        for name, rule in fields.items():
            assert rule.full <= set(table.AUDIENCES) and rule.reduced <= set(table.AUDIENCES)
            assert not rule.full & rule.reduced, (resource, name)
            assert bool(rule.reduced) == bool(rule.form), (resource, name)
            # what a read-only admin key sees, a read-write one sees too
            assert table.ADMIN in rule.full or table.ADMIN_READ not in rule.full
