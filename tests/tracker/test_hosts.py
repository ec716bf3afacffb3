"""Tracking domains, the pure rules (tracker/domain/hosts.py): the Host a request names,
the set answered, and which domain a handed-out URL gets."""

from __future__ import annotations

from tracker.domain.hosts import TrackingDomain, allowed_hosts, host_name, on_domain, own_host, pick


def test_host_name_drops_port_case_and_trailing_dot() -> None:
    assert host_name(b"Track.Shop.Example:8443") == b"track.shop.example"
    assert host_name(b"track.shop.example.") == b"track.shop.example"
    assert host_name(b"[::1]:8000") == b"[::1]"
    assert host_name(b" 127.0.0.1 ") == b"127.0.0.1"


def test_nothing_registered_answers_every_host_and_the_own_host_always() -> None:
    assert allowed_hosts([], "https://t.example") == frozenset()
    hosts = allowed_hosts(["track.shop.example"], "https://t.example:8443/x")
    assert hosts == {b"track.shop.example", b"t.example"}
    assert own_host("http://[::1]:8000") == "[::1]"


def _d(
    i: int, host: str, scope: str, adv: int | None = None, aff: int | None = None
) -> TrackingDomain:
    return TrackingDomain(i, host, scope, adv, aff)


def test_links_prefer_the_advertiser_then_the_partner_then_the_network() -> None:
    every = [_d(1, "net.example", "network"), _d(2, "go.partner.example", "partner", aff=7),
             _d(3, "track.shop.example", "advertiser", adv=5)]  # fmt: skip
    assert pick(every, 5, 7, link=True) == "track.shop.example"
    assert pick(every, 6, 7, link=True) == "go.partner.example"
    assert pick(every, 6, 8, link=True) == "net.example"
    assert pick([], 5, 7, link=True) is None
    # Merchant-facing URLs (pixel, SDK) never go out on a partner's domain.
    assert pick(every, 6, 7) == "net.example"
    assert pick(every, 5) == "track.shop.example"
    # The newest of one scope is handed out; the older one keeps answering.
    assert pick([*every, _d(9, "t2.shop.example", "advertiser", adv=5)], 5) == "t2.shop.example"


def test_a_url_on_a_domain_keeps_the_public_urls_scheme_and_port() -> None:
    assert on_domain("https://t.example", "track.shop.example") == "https://track.shop.example"
    assert on_domain("http://127.0.0.1:8000/", "track.shop.localhost") == (
        "http://track.shop.localhost:8000")  # fmt: skip
    assert on_domain("https://t.example/trk/", None) == "https://t.example/trk"
