"""Split tests of an offer's landers: is a variant's conversion rate different from the
control's? (pure; issue 20)

A two-proportion z-test with the pooled rate: z = (p₂ - p₁) / √(p(1 - p)(1/n₁ + 1/n₂)),
two-sided p-value erfc(|z|/√2), confidence 1 - p. No answer (None) when either side has
no clicks or neither converted (the difference is undefined, not zero).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from math import erfc, sqrt
from typing import NamedTuple

_Q = Decimal("0.0001")


class Comparison(NamedTuple):
    z: Decimal | None
    p_value: Decimal | None
    confidence: Decimal | None


NONE = Comparison(None, None, None)


def four(value: float | Decimal) -> Decimal:
    return Decimal(str(value)).quantize(_Q, ROUND_HALF_EVEN)


def compare(control: tuple[int, int], variant: tuple[int, int]) -> Comparison:
    """(clicks, conversions) of the control and of a variant → z, p-value, confidence."""
    n1, c1 = control
    n2, c2 = variant
    if n1 <= 0 or n2 <= 0:
        return NONE
    pooled = (c1 + c2) / (n1 + n2)
    se = sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return NONE
    z = (c2 / n2 - c1 / n1) / se
    p = erfc(abs(z) / sqrt(2))
    return Comparison(four(z), four(p), four(1 - p))


def rate(conversions: int, clicks: int) -> Decimal | None:
    """Conversions per 100 clicks, 4 decimals (None without clicks)."""
    if clicks <= 0:
        return None
    return (Decimal(conversions) * 100 / clicks).quantize(_Q, ROUND_HALF_EVEN)


def per_click(money: Decimal, clicks: int) -> Decimal | None:
    if clicks <= 0:
        return None
    return (money / clicks).quantize(_Q, ROUND_HALF_EVEN)
