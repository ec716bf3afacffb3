"""Weighted choices that stick to a visitor (tracker.domain.weights): shares hold their
weights, a visitor keeps its number within its window and nowhere else needs state, and
two choices of one visitor (a route and a lander) do not move together."""

from __future__ import annotations

from collections import Counter

from tracker.domain.weights import Wheel, pick_among, share, visitor_hash

DAY = 86_400
NOW = 1_800_000_000.0


def _visitors(n: int) -> list[int]:
    return [visitor_hash(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", "UA") for i in range(n)]


def test_shares_hold_the_weights() -> None:
    wheel = Wheel((50, 30, 20))
    got = Counter(wheel.pick(share(v, 7, DAY, NOW)) for v in _visitors(60_000))
    for i, w in enumerate((0.5, 0.3, 0.2)):
        assert abs(got[i] / 60_000 - w) < 0.01, got


def test_a_visitor_keeps_its_number_for_its_window_then_draws_again() -> None:
    vs = _visitors(2_000)
    firsts = [share(v, 3, DAY, NOW) for v in vs]
    assert all(0.0 <= u < 1.0 for u in firsts)
    # each visitor's window starts at a point of its own: within an hour few move
    moved = sum(share(v, 3, DAY, NOW + 3_600) != u for v, u in zip(vs, firsts, strict=True))
    assert 0 < moved < 0.1 * len(vs), moved
    # a whole window later every visitor has drawn again
    assert sum(share(v, 3, DAY, NOW + DAY) != u for v, u in zip(vs, firsts, strict=True)) == len(vs)
    # no stickiness: a fresh number at every click
    assert len({share(vs[0], 3, 0, NOW) for _ in range(50)}) > 40


def test_two_choices_of_one_visitor_are_independent() -> None:
    half = Wheel((1, 1))
    pairs = Counter((half.pick(share(v, 11, DAY, NOW)), half.pick(share(v, 12, DAY, NOW)))
                    for v in _visitors(40_000))  # fmt: skip
    for pair in ((0, 0), (0, 1), (1, 0), (1, 1)):
        assert abs(pairs[pair] / 40_000 - 0.25) < 0.01, pairs


def test_pick_among_is_the_wheel_without_keeping_it() -> None:
    weights = (5, 1, 7, 3)
    wheel = Wheel(weights)
    for k in range(1_000):
        u = k / 1_000
        assert pick_among(u, weights) == wheel.pick(u)
    assert wheel.pick(0.999999999) == len(weights) - 1
