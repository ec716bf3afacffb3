"""The client's address: the peer, unless the peer is a proxy we were told to trust (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network


def networks(cidrs: Sequence[str]) -> tuple[Network, ...]:
    return tuple(ip_network(c, strict=False) for c in cidrs)


def _addr(text: str) -> Address | None:
    try:
        a = ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(a, IPv6Address) and a.ipv4_mapped:
        return a.ipv4_mapped
    return a


def client_ip(
    peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]
) -> Address | None:
    """X-Forwarded-For is read right to left only while each hop is a trusted proxy."""
    addr = _addr(peer) if peer else None
    if addr is None or not forwarded_for or not any(addr in n for n in trusted):
        return addr
    for hop in reversed(forwarded_for.split(",")):
        h = _addr(hop)
        if h is None:
            return addr
        addr = h
        if not any(h in n for n in trusted):
            return h
    return addr


def allowed(addr: Address | None, allowlist: Sequence[Network]) -> bool:
    if not allowlist:
        return True
    return addr is not None and any(addr in n for n in allowlist)
