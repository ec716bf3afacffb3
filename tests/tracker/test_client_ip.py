"""The client's address behind proxies (tracker.domain.client_ip): believed only from a
trusted peer, read right to left, the first untrusted hop is the client."""

from __future__ import annotations

import pytest

from tracker.domain.client_ip import ClientAddress, client_ip, forwarded_for, networks

TRUSTED = networks(["127.0.0.1/32", "10.0.0.0/8"])


@pytest.mark.parametrize(("peer", "xff", "fwd", "client"), [
    ("127.0.0.1", "203.0.113.9", "", "203.0.113.9"),
    ("127.0.0.1", "198.51.100.1, 203.0.113.9, 10.1.1.1", "", "203.0.113.9"),  # spoof on the left
    ("127.0.0.1", "10.2.2.2, 10.1.1.1", "", "10.2.2.2"),  # all trusted: the left-most
    ("127.0.0.1", "unknown, 203.0.113.9", "", "203.0.113.9"),
    ("127.0.0.1", "203.0.113.9, junk", "", "127.0.0.1"),  # a bad hop: stop at the last good
    ("127.0.0.1", "203.0.113.9:4711", "", "203.0.113.9"),
    ("127.0.0.1", "[2001:db8::7]:4711", "", "2001:db8::7"),
    ("127.0.0.1", "::ffff:203.0.113.9", "", "203.0.113.9"),
    ("127.0.0.1", "", 'for=198.51.100.1, for="203.0.113.9:80";proto=https', "203.0.113.9"),
    ("127.0.0.1", "", 'For="[2001:db8:cafe::17]:4711"', "2001:db8:cafe::17"),
    ("127.0.0.1", "203.0.113.9", "for=198.51.100.1", "203.0.113.9"),  # X-Forwarded-For first
    ("192.0.2.1", "203.0.113.9", "for=198.51.100.1", "192.0.2.1"),  # untrusted peer: ignored
    ("192.0.2.1", "", "", "192.0.2.1"),
])  # fmt: skip
def test_the_client_is_the_right_most_untrusted_hop(peer: str, xff: str, fwd: str,
                                                    client: str) -> None:  # fmt: skip
    assert str(client_ip(peer, xff, TRUSTED, fwd)) == client
    cached = ClientAddress(["127.0.0.1/32", "10.0.0.0/8"])
    assert cached.of(peer, xff, fwd) == client
    assert cached.of(peer, xff, fwd) == client  # from the cache


def test_without_trusted_proxies_headers_are_never_read() -> None:
    none = ClientAddress([])
    assert not none.enabled and none.of("192.0.2.1", "203.0.113.9", "for=1.2.3.4") == "192.0.2.1"
    assert forwarded_for("for=a;by=b, proto=x;FOR=c") == ["a", "c"]
