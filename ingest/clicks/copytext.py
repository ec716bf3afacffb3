"""The COPY text format as the worker writes it.

NULL is the control character ``\\x01`` rather than ``\\N``, so that
ordinary values never need a backslash; ``escape`` handles the rest (NUL,
which Postgres text cannot hold, is dropped; a real ``\\x01`` becomes
``\\001``).
"""

from __future__ import annotations

import re

NULL = "\x01"
_SPECIAL = re.compile(r"[\\\t\n\r\x00\x01]")
_ESCAPES = str.maketrans(
    {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\x00": "", NULL: "\\001"}
)


def needs_escape(value: str) -> bool:
    return _SPECIAL.search(value) is not None


def escape(value: str) -> str:
    """A COPY text field: escaped when it must be."""
    return value.translate(_ESCAPES) if _SPECIAL.search(value) else value


def opt(value: str | None) -> str:
    """A COPY text field where an empty value is NULL."""
    return escape(value) if value else NULL
