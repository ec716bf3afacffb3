"""Weighted choices that stick to a visitor without server state (pure).

A visitor is its address and user agent (as for unique clicks), hashed once per click.
Each choice (a smart link's route, an offer's lander) turns that hash, the choice's own
salt and the visitor's current window into a number in [0, 1), and the weights' wheel
turns the number into an index. The same visitor gets the same number for the same
choice until its window ends, in every process; windows start at a point of their own
for each visitor, so a link's visitors do not all change routes at one instant. When the
chosen option cannot take the visitor, the same number picks among the others, so a
visitor moves only when its own option closes.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Sequence
from hashlib import blake2b
from itertools import accumulate

_M64 = (1 << 64) - 1
_UNIT = 2.0**-53
_K1, _K2, _K3 = 0x9E3779B97F4A7C15, 0xD1B54A32D192ED03, 0xBF58476D1CE4E5B9


def visitor_hash(ip: str, ua: str) -> int:
    return int.from_bytes(blake2b(f"{ip}\x00{ua}".encode(), digest_size=8).digest(), "little")


def share(visitor: int, salt: int, sticky_s: int, now: float) -> float:
    """The visitor's number in [0, 1) for one choice (``salt``) in its current window of
    ``sticky_s`` seconds (0: a fresh random number at every click)."""
    if sticky_s <= 0:
        return random.random()
    window = int((now + visitor % sticky_s) // sticky_s)
    # the visitor's hash is uniform already: xor in the choice and the window, then two
    # multiplications by odd constants with a shift between (a bijection that spreads
    # every input bit over the top 53 bits the number is made of)
    z = ((visitor ^ (salt * _K1) ^ (window * _K2)) * _K3) & _M64
    z ^= z >> 29
    return (((z * _K1) & _M64) >> 11) * _UNIT


class Wheel:
    """Cumulative weights: ``pick(u)`` is the index whose share of the total holds ``u``."""

    __slots__ = ("bounds", "total")

    def __init__(self, weights: Sequence[int]) -> None:
        self.bounds = tuple(accumulate(weights))
        self.total = self.bounds[-1] if self.bounds else 0

    def pick(self, u: float) -> int:
        return min(bisect_right(self.bounds, u * self.total), len(self.bounds) - 1)


def pick_among(u: float, weights: Sequence[int]) -> int:
    """``Wheel(weights).pick(u)`` without keeping the wheel (for what is left of a tier)."""
    total = sum(weights)
    target = u * total
    acc = 0
    for i, w in enumerate(weights):
        acc += w
        if target < acc:
            return i
    return len(weights) - 1
