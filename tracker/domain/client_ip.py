"""The client's address: the peer, unless the peer is a proxy we were told to trust (pure).

One rule for every path that reads an address (the redirect's ``/c``, ``/click`` and
``/i``, postbacks' IP allowlists): ``X-Forwarded-For`` (or, without it, RFC 7239
``Forwarded: for=…``) is believed when, and only when, the peer is in
``TRACKER_TRUSTED_PROXIES``; it is read right to left, and the first address that is
not a trusted proxy is the client. A header from any other peer is ignored, so a
visitor cannot choose the address its click is stored, located and judged with.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network
_MAX_HOPS = 32  # hops looked at, from the right
_CACHE_MAX = 65_536


def networks(cidrs: Sequence[str]) -> tuple[Network, ...]:
    return tuple(ip_network(c, strict=False) for c in cidrs)


def _addr(text: str) -> Address | None:
    """An address as proxies write it: bare, quoted, ``[v6]``, with or without a port."""
    t = text.strip().strip('"')
    if t.startswith("["):  # [2001:db8::1]:4711
        t = t[1 : t.find("]")] if "]" in t else t
    elif t.count(":") == 1:  # 192.0.2.1:4711
        t = t.partition(":")[0]
    try:
        a = ip_address(t)
    except ValueError:
        return None
    if isinstance(a, IPv6Address) and a.ipv4_mapped:
        return a.ipv4_mapped
    return a


def forwarded_for(forwarded: str) -> list[str]:
    """The ``for=`` values of an RFC 7239 ``Forwarded`` header, in order."""
    out = []
    for element in forwarded.split(","):
        for pair in element.split(";"):
            name, _, value = pair.partition("=")
            if name.strip().lower() == "for":
                out.append(value)
    return out


def client_ip(
    peer: str | None, x_forwarded_for: str | None, trusted: Sequence[Network],
    forwarded: str | None = None,
) -> Address | None:  # fmt: skip
    """The client's address (None when the peer's is unreadable)."""
    addr = _addr(peer) if peer else None
    if addr is None or not (x_forwarded_for or forwarded) or not any(addr in n for n in trusted):
        return addr
    hops = x_forwarded_for.split(",") if x_forwarded_for else forwarded_for(forwarded or "")
    for hop in reversed(hops[-_MAX_HOPS:]):
        h = _addr(hop)
        if h is None:  # "unknown" or garbage: nothing left of it can be believed
            return addr
        addr = h
        if not any(h in n for n in trusted):
            return h
    return addr


class ClientAddress:
    """``client_ip`` for the redirect: text in, text out, the peer's trust cached.

    Without trusted proxies (the default) it is the peer's address as the server gave
    it, at the cost of one attribute test.
    """

    __slots__ = ("_peers", "_resolved", "enabled", "trusted")

    def __init__(self, trusted_cidrs: Sequence[str]) -> None:
        self.trusted = networks(trusted_cidrs)
        self.enabled = bool(self.trusted)
        self._peers: dict[str, bool] = {}
        self._resolved: dict[tuple[str, str, str], str] = {}

    def of(self, peer: str, x_forwarded_for: str, forwarded: str) -> str:
        if not self.enabled or not (x_forwarded_for or forwarded):
            return peer
        trusted = self._peers.get(peer)
        if trusted is None:
            if len(self._peers) >= _CACHE_MAX:
                self._peers.clear()
            a = _addr(peer)
            trusted = self._peers[peer] = a is not None and any(a in n for n in self.trusted)
        if not trusted:
            return peer
        key = (peer, x_forwarded_for, forwarded)
        hit = self._resolved.get(key)
        if hit is None:
            if len(self._resolved) >= _CACHE_MAX:
                self._resolved.clear()
            a = client_ip(peer, x_forwarded_for, self.trusted, forwarded)
            hit = self._resolved[key] = "" if a is None else str(a)
        return hit


def allowed(addr: Address | None, allowlist: Sequence[Network]) -> bool:
    if not allowlist:
        return True
    return addr is not None and any(addr in n for n in allowlist)
