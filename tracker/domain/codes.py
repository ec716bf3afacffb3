"""Country, region and language codes targeting may name, from ISO data (pure).

The data is the pinned PyPI package ``pycountry`` (ISO 3166-1, 3166-2 and 639-1); it is
read once, on the first check, by the API only (the redirect compares strings).
``XK`` (Kosovo) is not an ISO code but is how GeoIP databases name the country, so
a visitor from there can be targeted.
"""

from __future__ import annotations

from functools import cache
from typing import Any

_EXTRA_COUNTRIES = frozenset({"XK"})
_KINDS = {"countries": "country", "regions": "region", "languages": "language"}


@cache
def _known() -> dict[str, frozenset[str]]:
    import pycountry

    return {
        "country": frozenset(c.alpha_2 for c in pycountry.countries) | _EXTRA_COUNTRIES,
        "region": frozenset(s.code for s in pycountry.subdivisions),
        "language": frozenset(
            lang.alpha_2 for lang in pycountry.languages if hasattr(lang, "alpha_2")
        ),
    }


def unknown_code(targeting: dict[str, Any] | None, field: str) -> tuple[str, str] | None:
    """(field path, message) of the first code in a targeting (its stored form) that ISO
    does not know, or None. ``field`` is where the targeting sits in the request."""
    if not targeting:
        return None
    known = _known()
    for dimension, kind in _KINDS.items():
        match = targeting.get(dimension) or {}
        for side in ("allow", "deny"):
            for i, code in enumerate(match.get(side) or ()):
                if code not in known[kind]:
                    return (f"{field}.{dimension}.{side}.{i}",
                            f"unknown {kind} code {code!r} (ISO, pycountry)")  # fmt: skip
    return None
