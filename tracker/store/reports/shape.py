"""The answer's shape, in SQL: ratios, money as text, the key, nulls for hidden metrics, order,
and each row as the JSON text of the answer's object.

Done by the query rather than in Python: for thousands of rows, a Decimal per value to
decode and to encode again, a sort with a key function, and even a dict per row, cost more
than the query.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from schemas.reports import INT_DIMS, STATUSES, TIME_DIMS
from tracker.store.reports.common import COUNT_FACTS, COUNTED, FACTS

if TYPE_CHECKING:
    from tracker.store.reports.common import Spec


def _shape(x: str) -> str:
    """Money with 4 decimals, or more when a CPM price needs them."""
    return f"CASE WHEN scale(trim_scale({x})) <= 4 THEN round({x}, 4) ELSE trim_scale({x}) END"


# A row of the query: the grouped values, OUT, conversions, key, whether it is the total.
_STATUS_MONEY = tuple(f"{s}_{m}" for s in STATUSES for m in ("revenue", "payout"))
OUT = ("gross_clicks", "unique_clicks", "human_clicks", "bot_clicks", "impressions", *STATUSES,
       "revenue", "payout", "profit", *_STATUS_MONEY, "cr", "epc", "rpc")  # fmt: skip
# each metric over the grouped relation y (d0…, the FACTS, total)
_COUNTED = " + ".join(f"n_{s}" for s in COUNTED)
METRIC = {m: f"coalesce({c}, 0)" for m, c in zip(OUT, COUNT_FACTS, strict=False)}
METRIC.update(
    conversions=f"coalesce({_COUNTED}, 0)", revenue=_shape("rev"), payout=_shape("pay"),
    profit=_shape("rev - pay"), cr=f"round(100.0 * ({_COUNTED}) / nullif(g, 0), 4)",
    epc="round(pay / nullif(g, 0), 4)", rpc="round(rev / nullif(g, 0), 4)",
    # conversion prices have 4 decimals (numeric(18, 4)): no CPM fractions to keep
    **{f"{s}_{m}": f"round({m[:3]}_{s}, 4)" for s in STATUSES for m in ("revenue", "payout")},
)  # fmt: skip
_TEXT = ("revenue", "payout", "profit", *_STATUS_MONEY, "cr", "epc", "rpc")  # text, as Decimal
_SUMS = ", ".join(FACTS)


def _order(spec: Spec) -> tuple[str, str]:
    """Rows by ``spec.sort`` (a metric or a grouped dimension, ``-`` for descending), then by
    the grouped dimensions; null last whichever the direction; text by code point. Returns
    the keys, over columns only, and the sort metric's expression to compute as ``sk``
    (empty when none)."""

    def dim(i: int) -> str:
        return f"d{i}" if spec.dims[i] in INT_DIMS else f'd{i} COLLATE "C"'

    keys = [f"{dim(i)} NULLS LAST" for i in range(len(spec.dims))]
    metric = ""
    if spec.sort is not None:
        name = spec.sort.lstrip("-")
        expr = dim(spec.dims.index(name)) if name in spec.dims else "sk"
        metric = "" if name in spec.dims else METRIC[name]
        keys.insert(0, f"{expr}{' DESC' if spec.sort.startswith('-') else ''} NULLS LAST")
    return ", ".join(keys), metric


def _value(spec: Spec, i: int) -> str:
    """The grouped value ``d{i}`` as JSON text: a number (ids), a string or null. A time
    bucket's label (digits, "-", "T", ":") needs no escaping; other text goes through to_json."""
    if spec.dims[i] in INT_DIMS:
        return f"coalesce(d{i}::text, 'null')"
    if spec.dims[i] in TIME_DIMS:
        return f"""coalesce('"' || d{i} || '"', 'null')"""
    return f"coalesce(to_json(d{i})::text, 'null')"


def _json(spec: Spec) -> str:
    """A row of the answer as JSON text, the same object ``orjson`` made of the dict before:
    the metrics of OUT, ``conversions``, ``key``, ``group``. Text joined by ``||`` over
    non-null text only: ``concat`` looks up each argument's output function on every row,
    which cost a 6,000-row answer 10 ms more (docs/adr/0070)."""
    parts: list[str] = []  # alternately a literal and an expression
    lit = "{"
    for m in OUT:
        if m in spec.hidden:
            lit += f'"{m}":null,'
            continue
        if m in _TEXT:
            value = _shape("pr") if m == "profit" else METRIC[m]  # pr: rev - pay, once
            expr = f"""coalesce('"' || ({value})::text || '"', 'null')"""
            if spec.several and m != "cr":  # never a sum of amounts in different currencies
                expr = f"CASE WHEN total THEN 'null' ELSE {expr} END"
        else:
            expr = f"({METRIC[m]})::text"
        parts += [f'{lit}"{m}":', expr]
        lit = ","
    parts += [f'{lit}"conversions":', f"({METRIC['conversions']})::text"]
    n = len(spec.dims)
    if n == 1:
        key = _value(spec, 0)
    else:  # the values joined by "|" (null as "")
        joined = " || '|' || ".join(f"coalesce(d{i}::text, '')" for i in range(n))
        plain = all(d in INT_DIMS or d in TIME_DIMS for d in spec.dims)
        key = f"""'"' || {joined} || '"'""" if plain else f"to_json({joined})::text"
    group = " || ".join(f"'{',' if i else '{'}\"{d}\":' || {_value(spec, i)}"
                        for i, d in enumerate(spec.dims))  # fmt: skip
    parts += [',"key":', f"CASE WHEN total THEN '\"total\"' ELSE {key} END", ',"group":',
              f"CASE WHEN total THEN '{{}}' ELSE {group} || '}}' END", "}"]  # fmt: skip
    return " || ".join(
        p if k % 2 else "'" + p.replace("'", "''") + "'" for k, p in enumerate(parts)
    )


def project(spec: Spec, grouped: str) -> str:
    """The answer's rows from ``grouped``: a relation of one row per group and one total row
    (d0…, the FACTS, total), each as (JSON text, total), the total
    row last (its ``key`` is "total", its ``group`` empty). With ``spec.raw_total`` a third
    column holds the total row's sums as numbers (null in other rows), for parts to add.

    The rows are sorted before they become JSON: sorting 6,000 rows of 330 bytes of text
    cost 6 ms more than sorting their numbers. The outer ORDER BY names the same columns,
    so PostgreSQL keeps the inner order without sorting again, and the order is the
    query's, not an accident of the plan."""
    cols = f"{', '.join(f'd{i}' for i in range(len(spec.dims)))}, {_SUMS}, total"
    keys, metric = _order(spec)
    sk = f", {metric} AS sk" if metric else ""
    sums = f", CASE WHEN total THEN ARRAY[{_SUMS}]::numeric[] END" if spec.raw_total else ""
    return f"""
SELECT {_json(spec)}, total{sums}
  FROM (SELECT *, rev - pay AS pr{sk} FROM {grouped} AS y ({cols}) ORDER BY total, {keys})
       AS y ({cols}, pr{", sk" if sk else ""})
 ORDER BY total, {keys}"""


def total(spec: Spec, sums: list[Decimal]) -> tuple[str, list[Any]]:
    """The total row's JSON text from the sums of the parts' ``raw_total`` columns: shaped by
    the same SQL as any total row."""
    nulls = ", ".join("NULL::text" for _ in spec.dims)
    n = len(COUNT_FACTS)
    values = ", ".join(f"${k + 1}::{'numeric' if k >= n else 'int8'}" for k in range(len(sums)))
    args: list[Any] = [int(x) for x in sums[:n]] + list(sums[n:])
    return project(replace(spec, raw_total=False), f"(SELECT {nulls}, {values}, true)"), args
