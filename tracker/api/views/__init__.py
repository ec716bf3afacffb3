"""What a key sees of each resource: the table of tracker/domain/visibility.py applied to
an answer, in one place, whatever route made it (docs/adr/0085)."""

from __future__ import annotations

from typing import Any

from tracker.domain import visibility as table
from tracker.store.keys import Principal


def audience_of(who: Principal) -> str:
    return table.audience(who.role, who.scopes, who.in_house)


def _value(resource: str, name: str, value: Any, aud: str, created: bool) -> tuple[bool, Any]:
    """(shown, value as shown) of one field."""
    r = table.rule(resource, name)
    if aud in r.full:
        if r.once and not created:
            return False, None
        if r.of and value is not None:
            return True, _nested(r.of, value, aud, created)
        return True, value
    if aud in r.reduced:
        return True, table.REDUCE[r.form](value)
    return False, None


def _nested(resource: str, value: Any, aud: str, created: bool) -> Any:
    if isinstance(value, list):
        return [_nested(resource, v, aud, created) for v in value]
    if resource == "Decision":
        return _record(value, aud, "")
    return _apply(resource, dict(value), aud, created)


def _record(record: dict[str, Any], aud: str, prefix: str = "", parent: str = "") -> dict[str, Any]:
    """A free-form record (the decision record): keys not shown are left out. A key inside
    a listed one follows its parent's rule unless listed itself."""
    rules = table.FIELDS["Decision"]
    out: dict[str, Any] = {}
    for key, value in record.items():
        path = f"{prefix}{key}"
        name = path if path in rules or not parent else parent
        shown, value = _value("Decision", name, value, aud, False)
        if not shown:
            continue
        deeper = f"{path}."
        if isinstance(value, dict) and any(k.startswith(deeper) for k in rules):
            value = _record(value, aud, deeper, name)
        out[key] = value
    return out


def _apply(resource: str, row: dict[str, Any], aud: str, created: bool) -> dict[str, Any]:
    for name in list(row):
        shown, value = _value(resource, name, row[name], aud, created)
        row[name] = value if shown else None
    return row


def show(
    resource: str, who: Principal, row: dict[str, Any], *, created: bool = False
) -> dict[str, Any]:
    """``row`` as ``who`` may see it: hidden fields null, reduced ones reduced; a field
    marked ``once`` only when ``created`` (the answer that creates it)."""
    return _apply(resource, dict(row), audience_of(who), created)


def show_all(resource: str, who: Principal, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    aud = audience_of(who)
    return [_apply(resource, dict(r), aud, False) for r in rows]


def columns(resource: str, who: Principal, names: tuple[str, ...]) -> tuple[str, ...]:
    """The export columns ``who`` sees (a hidden column is left out of the file)."""
    aud = audience_of(who)
    return tuple(n for n in names if table.sees(resource, n, aud))


def reduced_columns(resource: str, who: Principal, names: tuple[str, ...]) -> dict[str, str]:
    """Export columns ``who`` sees reduced: column -> reduction."""
    aud = audience_of(who)
    out = {}
    for n in names:
        r = table.rule(resource, n)
        if aud not in r.full and aud in r.reduced:
            out[n] = r.form
    return out
