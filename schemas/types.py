"""Value types of API input whose JSON Schema says exactly what is accepted.

Amounts travel as decimal strings (or whole numbers): a JSON float is not exact,
so it is refused rather than rounded. Booleans are JSON booleans, times are
ISO 8601 strings, ids fit the 64-bit columns they are looked up in. What the
OpenAPI document promises is what the validators enforce, so a generated
client (or schemathesis) never meets a rule the schema hides.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BeforeValidator, Field, StrictBool, WithJsonSchema

MAX_ID = 2**63 - 1
MAX_INT4 = 2**31 - 1
# Postgres text cannot hold NUL: free text is everything else.
TEXT = r"^[^\x00]*$"

_MONEY = r"^[0-9]{1,14}(\.[0-9]{1,4})?$"
_PERCENT = r"^(1000(\.0{1,4})?|[0-9]{1,3}(\.[0-9]{1,4})?)$"
_RATE = r"^[0-9]{1,14}(\.[0-9]{1,10})?$"


def never_null(v: object, then: str = "") -> object:
    """A before-validator's rule for fields that may be left out but not sent as null
    (left out: unchanged or the default; null: not a value the field can take)."""
    if v is None:
        raise ValueError("cannot be null; leave the field out" + then)
    return v


def known_zone(name: str) -> str:
    """An IANA time zone name this machine's zone data knows, or a ValueError saying so."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None
    return name


def _exact(pattern: str) -> Any:
    compiled = re.compile(pattern)

    def check(value: object) -> object:
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            return int(value)  # JSON Schema counts 6733.0 as an integer
        if isinstance(value, bool) or isinstance(value, float):
            raise ValueError('send amounts as decimal strings, e.g. "2.50" (floats are inexact)')
        if isinstance(value, str) and not compiled.match(value):
            raise ValueError(f"must match {pattern}")
        return value

    return BeforeValidator(check)


def _amount_schema(pattern: str, maximum: int, example: str) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": pattern},
                {"type": "integer", "minimum": 0, "maximum": maximum},
            ],
            "examples": [example],
        }
    )


Money = Annotated[
    Decimal,
    _exact(_MONEY),
    Field(ge=0, max_digits=18, decimal_places=4),
    _amount_schema(_MONEY, 10**14 - 1, "2.50"),
]
Percent = Annotated[
    Decimal,
    _exact(_PERCENT),
    Field(ge=0, le=1000, max_digits=9, decimal_places=4),
    _amount_schema(_PERCENT, 1000, "12.5"),
]
Rate = Annotated[
    Decimal,
    _exact(_RATE),
    Field(gt=0, max_digits=24, decimal_places=10),
    _amount_schema(_RATE, 10**14 - 1, "1.0825"),
]


_ISO = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}")


def _iso_only(value: object) -> object:
    if isinstance(value, datetime) or (isinstance(value, str) and _ISO.match(value)):
        return value
    raise ValueError("a time is an ISO 8601 string, e.g. 2026-01-31T23:00:00Z")


def _number(value: object) -> object:
    if isinstance(value, bool | str):  # lax int would take true as 1 and "5" as 5
        raise ValueError("must be a JSON integer")
    return value


Instant = Annotated[datetime, BeforeValidator(_iso_only)]
Flag = StrictBool
# The constraints sit on int itself, so that the JSON Schema says minimum/maximum.
_WHOLE = BeforeValidator(_number)
WHOLE = _WHOLE  # for int aliases elsewhere: refuses true and "5"
Id = Annotated[int, Field(ge=1, le=MAX_ID), _WHOLE]
Count = Annotated[int, Field(ge=1, le=MAX_INT4), _WHOLE]
Seconds = Annotated[int, Field(ge=0, le=MAX_INT4), _WHOLE]
WindowDays = Annotated[int, Field(ge=1, le=365), _WHOLE]
PerMinute = Annotated[int, Field(ge=1, le=1_000_000), _WHOLE]
OverlapSeconds = Annotated[int, Field(ge=0, le=30 * 86_400, description="seconds"), _WHOLE]
