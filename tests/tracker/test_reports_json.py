"""The report rows made as JSON text by the query (docs/adr/0070) are the objects the API
sent before, when it built a dict per row from the query's columns and orjson encoded it:
checked on values that JSON must escape, nulls, hidden metrics and every key shape."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
import pytest

from tracker.api.json import dumps
from tracker.store.reports import shape
from tracker.store.reports.common import FACTS
from tracker.store.reports.sql import Spec

_FACTS = ", ".join(FACTS)

_TRICKY = ['a"b', "back\\slash", "line\nbreak\ttab\x01", "ünï€ode 🎯", "", "|", None]
# d0 (text), d1 (int), then g, u, h, b, i, p, a, (held), rj, rv, rev, pay, money by status, total
_ROWS = [
    (s, n, 10 * k, 5, 7, 3, 2, 1, k, 0, 1, f"{k}.123456789", "0.5", False)
    for k, (s, n) in enumerate(zip(_TRICKY, [1, None, 3, 2**40, 5, 6, None], strict=True))
] + [("z", 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, "0", "0", False),  # no clicks: ratios null
     (None, None, 99, 1, 1, 1, 1, 1, 1, 1, 1, "12.5", "0.0001", True)]  # fmt: skip
_ROWS = [(*r[:9], 4 * (r[2] > 0), *r[9:]) for r in _ROWS]  # held, after approved
_TYPES = "text, int8, " + "int8, " * 10 + "numeric, " * 12 + "bool"
# each status's money (pending, approved, held, rejected, reversed; revenue then payout)
_BY_STATUS = ("1.5", "0.25", "2", "1", "7.25", "3.5", "0.0000001", "0", "-3.1", "-1.55")
_ROWS = [(*r[:-1], *_BY_STATUS, r[-1]) for r in _ROWS]


# the same rows with time buckets' labels in d0 (digits, "-", "T", ":"; never escaped)
_LABELS = ["2026-01-01", "2026-01-02T05:00", "2026-02", "2026-01-05", "2026-01-01T23:00",
           "2026-12-31", None]  # fmt: skip
_TIMED = [(_LABELS[k], *r[1:]) for k, r in enumerate(_ROWS[: len(_LABELS)])] + _ROWS[len(_LABELS) :]


def _grouped(records: list[tuple[Any, ...]] = _ROWS) -> str:
    def lit(v: Any) -> str:
        if v is None:
            return "NULL"
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int):
            return str(v)
        return "'" + str(v).replace("'", "''") + "'"

    types = _TYPES.split(", ")
    rows = ", ".join(
        "(" + ", ".join(f"{lit(v)}::{t}" for v, t in zip(r, types, strict=True)) + ")"
        for r in records
    )
    return f"(VALUES {rows})"


def _old_answer(spec: Spec, records: list[asyncpg.Record]) -> tuple[bytes, bytes]:
    """What the engine built before: a dict per row from the columns of each metric."""
    names = (*shape.OUT, "conversions", "key")
    n = len(spec.dims)
    *body, last = records
    rows = []
    for rec in body:
        row = dict(zip(names, rec[n:-1], strict=True))
        row["group"] = dict(zip(spec.dims, rec[:n], strict=True))
        rows.append(row)
    totals = dict(zip(names, last[n:-1], strict=True))
    totals.update(key="total", group={})
    return dumps(rows), dumps(totals)


def _old_query(spec: Spec, grouped: str) -> str:
    cols = [f"d{i}" for i in range(len(spec.dims))]
    metrics = ", ".join(
        f"NULL::{'text' if m in shape._TEXT else 'int8'}" if m in spec.hidden
        else f"({shape.METRIC[m]})::text" if m in shape._TEXT else shape.METRIC[m]
        for m in shape.OUT
    )  # fmt: skip
    key = (
        cols[0] if len(cols) == 1 else " || '|' || ".join(f"coalesce({c}::text, '')" for c in cols)
    )
    keys, metric = shape._order(spec)
    if metric:  # the sort metric by its expression, as the query computes it
        keys = keys.replace("sk", f"({metric})", 1)
    return f"""SELECT {", ".join(cols)}, {metrics}, {shape.METRIC["conversions"]}, {key}, total
  FROM {grouped} AS y ({", ".join(cols)}, {_FACTS}, total)
 ORDER BY total, {keys}"""


@pytest.mark.parametrize(
    ("dims", "hidden", "sort"),
    [
        (["sub1", "partner"], (), None),
        (["sub1", "partner"], ("revenue", "profit", "rpc"), "-gross_clicks"),
        (["country", "offer"], ("payout", "profit", "epc"), "country"),
        (["day", "partner"], (), None),
        (["hour", "partner"], ("revenue", "profit", "rpc"), "-hour"),
    ],
)
async def test_query_json_equals_the_dicts_encoded_before(
    pool: asyncpg.Pool, dims: list[str], hidden: tuple[str, ...], sort: str | None
) -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    grouped = _grouped(_TIMED if dims[0] in ("day", "hour") else _ROWS)
    for one in (dims, dims[:1], dims[1:]):  # several dims: a "|" key; one: the value itself
        by = sort if sort is None or sort.lstrip("-") in (*one, *shape.METRIC) else None
        spec = Spec(dims=one, start=t, end=t, tz="UTC", hidden=hidden, sort=by)
        if len(one) == 1:  # keep only the column grouped by
            keep = 0 if one == dims[:1] else 1
            rel = f"(SELECT d{keep}, {_FACTS}, total FROM {grouped}"
            rel += f" AS v (d0, d1, {_FACTS}, total))"
        else:
            rel = grouped
        new = await pool.fetch(shape.project(spec, rel))
        old = await pool.fetch(_old_query(spec, rel))
        rows, totals = _old_answer(spec, old)
        new_rows = "[" + ",".join(r[0] for r in new[:-1]) + "]"
        assert [r[1] for r in new] == [r[-1] for r in old]
        assert orjson.loads(new_rows) == orjson.loads(rows)
        assert orjson.loads(new[-1][0]) == orjson.loads(totals)
        # the fragments go out as they are
        body = orjson.loads(dumps({"rows": orjson.Fragment(new_rows)}))
        assert body["rows"] == orjson.loads(rows) and len(body["rows"]) == len(_ROWS) - 1
