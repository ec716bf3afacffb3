"""Pure rules of outgoing postbacks: backoff, breaker, signatures, rendering."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
from hypothesis import given
from hypothesis import strategies as st

from tracker.domain.partner_render import ConversionFacts, render
from tracker.domain.partner_signing import sign, sign_url, verify
from tracker.domain.retry import Breaker, backoff_delay

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def test_backoff_grows_with_jitter_and_a_cap() -> None:
    rng = random.Random(7)
    delays = [
        backoff_delay(a, base_s=10, cap_s=3600, rng=rng).total_seconds() for a in range(1, 15)
    ]
    for attempt, d in enumerate(delays, start=1):
        ceiling = min(3600, 10 * 2 ** (attempt - 1))
        assert ceiling / 2 <= d <= ceiling
    assert max(delays) <= 3600
    assert len(set(delays)) == len(delays)  # jittered


def test_breaker_opens_after_threshold_slows_and_closes_on_success() -> None:
    b = Breaker(threshold=3, cooldown=timedelta(minutes=5))
    for _ in range(2):
        b.record(False, T0)
    assert b.allows(T0) and not b.is_open
    b.record(False, T0)
    assert (
        b.is_open
        and not b.allows(T0 + timedelta(minutes=4))
        and b.allows(T0 + timedelta(minutes=5))
    )
    b.record(False, T0 + timedelta(minutes=5))  # the trial failed: a longer cooldown
    assert not b.allows(T0 + timedelta(minutes=14)) and b.allows(T0 + timedelta(minutes=15))
    b.record(True, T0 + timedelta(minutes=15))
    assert not b.is_open and b.failures == 0 and b.opened == 2


@given(
    st.text(max_size=20),
    st.integers(0, 2**40),
    st.binary(max_size=200),
    st.text(min_size=1, max_size=40),
)
def test_signature_verifies_only_the_signed_message(
    delivery_id: str, ts: int, body: bytes, secret: str
) -> None:
    sig = sign(secret, delivery_id, ts, body)
    assert verify(secret, delivery_id, ts, body, sig)
    assert not verify(secret, delivery_id, ts + 1, body, sig)
    assert not verify(secret, delivery_id, ts, body + b"x", sig)
    assert not verify(secret + "x", delivery_id, ts, body, sig)


def test_get_signature_parameters() -> None:
    url = sign_url("s3cret", "id-1", 1_790_000_000, "https://p.example/pb?c=1")
    assert url.startswith("https://p.example/pb?c=1&trk_id=id-1&trk_ts=1790000000&trk_sig=")
    assert "sha256=" not in url


def test_render_get_and_post() -> None:
    facts = ConversionFacts(
        conversion_id="c-1", txn_id="order 1&2", goal="sale", status="approved",
        payout=Decimal("12.5000"), currency="EUR", offer_id=3, aff_id=4, click_id="k-1",
        created_at=T0, subs=("a/b", None, "x"), source="fb", params={"color": "red blue"},
    )  # fmt: skip
    url, body = render(
        "https://p.example/pb?t={txn_id}&p={payout}&s1={sub1}&s2={sub2}&c={p:color}&ts={timestamp}&u={nope}",
        "GET",
        facts,
    )
    assert url == (
        f"https://p.example/pb?t=order%201%262&p=12.5000&s1=a%2Fb&s2=&c=red%20blue&ts={int(T0.timestamp())}&u="
    )
    assert body is None
    _, post = render("https://p.example/pb", "POST", facts)
    data = orjson.loads(post or b"")
    assert (
        data["payout"] == "12.5000"
        and data["sub1"] == "a/b"
        and data["params"] == {"color": "red blue"}
    )
