"""The answer's shape, in SQL: ratios, money as text, the key, nulls for hidden metrics, order,
and each row as the JSON text of the answer's object.

Done by the query rather than in Python: for thousands of rows, a Decimal per value to
decode and to encode again, a sort with a key function, and even a dict per row, cost more
than the query.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from schemas.reports import INT_DIMS

if TYPE_CHECKING:
    from tracker.store.reports.sql import Spec


def _shape(x: str) -> str:
    """Money with 4 decimals, or more when a CPM price needs them."""
    return f"CASE WHEN scale(trim_scale({x})) <= 4 THEN round({x}, 4) ELSE trim_scale({x}) END"


# A row of the query: the grouped values, OUT, conversions, key, whether it is the total.
OUT = ("gross_clicks", "unique_clicks", "human_clicks", "bot_clicks", "impressions", "pending",
       "approved", "rejected", "reversed", "revenue", "payout", "profit", "cr", "epc",
       "rpc")  # fmt: skip
# each metric over the grouped relation y (d0…, g, u, h, b, i, p, a, rj, rv, rev, pay, total)
_COUNT_COLS = ("g", "u", "h", "b", "i", "p", "a", "rj", "rv")
METRIC = {m: f"coalesce({c}, 0)" for m, c in zip(OUT[:9], _COUNT_COLS, strict=True)}
METRIC.update(
    conversions="coalesce(p + a, 0)", revenue=_shape("rev"), payout=_shape("pay"),
    profit=_shape("rev - pay"), cr="round(100.0 * (p + a) / nullif(g, 0), 4)",
    epc="round(pay / nullif(g, 0), 4)", rpc="round(rev / nullif(g, 0), 4)",
)  # fmt: skip
_TEXT = ("revenue", "payout", "profit", "cr", "epc", "rpc")  # sent as text, like Decimal


def _order(spec: Spec) -> str:
    """Rows by ``spec.sort`` (a metric or a grouped dimension, ``-`` for descending), then by
    the grouped dimensions; null last whichever the direction; text by code point."""

    def dim(i: int) -> str:
        return f"d{i}" if spec.dims[i] in INT_DIMS else f'd{i} COLLATE "C"'

    keys = [f"{dim(i)} NULLS LAST" for i in range(len(spec.dims))]
    if spec.sort is not None:
        name = spec.sort.lstrip("-")
        expr = dim(spec.dims.index(name)) if name in spec.dims else METRIC[name]
        keys.insert(0, f"{expr}{' DESC' if spec.sort.startswith('-') else ''} NULLS LAST")
    return ", ".join(keys)


def _value(spec: Spec, i: int) -> str:
    """The grouped value ``d{i}`` as JSON text: a number (ids), a string or null."""
    if spec.dims[i] in INT_DIMS:
        return f"coalesce(d{i}::text, 'null')"
    return f"coalesce(to_json(d{i})::text, 'null')"


def _json(spec: Spec) -> str:
    """A row of the answer as JSON text, the same object ``orjson`` made of the dict before:
    the metrics of OUT, ``conversions``, ``key``, ``group``. One ``concat`` per row costs the
    query less than building 6,000 dicts of 19 keys costs Python (docs/adr/0070)."""
    parts: list[str] = []  # alternately a literal and an expression
    lit = "{"
    for m in OUT:
        if m in spec.hidden:
            lit += f'"{m}":null,'
            continue
        expr = f"'\"' || ({METRIC[m]})::text || '\"'" if m in _TEXT else METRIC[m]
        parts += [f'{lit}"{m}":', f"coalesce({expr}, 'null')" if m in _TEXT else expr]
        lit = ","
    parts += [f'{lit}"conversions":', METRIC["conversions"]]
    n = len(spec.dims)
    if n == 1:
        key = _value(spec, 0)
    else:  # the values joined by "|" (null as "")
        key = "to_json(" + " || '|' || ".join(f"coalesce(d{i}::text, '')" for i in range(n))
        key += ")::text"
    group = ", ".join(f"'{',' if i else '{'}\"{d}\":', {_value(spec, i)}"
                      for i, d in enumerate(spec.dims))  # fmt: skip
    parts += [',"key":', f"CASE WHEN total THEN '\"total\"' ELSE {key} END", ',"group":',
              f"CASE WHEN total THEN '{{}}' ELSE concat({group}, '}}') END", "}"]  # fmt: skip
    return ", ".join(p if k % 2 else "'" + p.replace("'", "''") + "'" for k, p in enumerate(parts))


def project(spec: Spec, grouped: str) -> str:
    """The answer's rows from ``grouped``: a relation of one row per group and one total row
    (d0…, g, u, h, b, i, p, a, rj, rv, rev, pay, total), each as (JSON text, total), the total
    row last (its ``key`` is "total", its ``group`` empty)."""
    dims = ", ".join(f"d{i}" for i in range(len(spec.dims)))
    return f"""
SELECT concat({_json(spec)}), total
  FROM {grouped} AS y ({dims}, g, u, h, b, i, p, a, rj, rv, rev, pay, total)
 ORDER BY total, {_order(spec)}"""
