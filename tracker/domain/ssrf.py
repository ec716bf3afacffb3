"""Where an outgoing postback may go: pure rules, no I/O.

A target is refused unless its scheme is http or https, its port 80 or 443,
it has no userinfo, and every address its host resolves to is a public
unicast address. Numeric hosts in every spelling the C resolver accepts
(``127.1``, ``0x7f000001``, ``2130706433``, ``0177.0.0.1``) are decoded first,
and IPv6 forms that embed an IPv4 address (mapped ``::ffff:a.b.c.d``,
compatible, NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``) are judged by the
IPv4 address inside. The sender connects to the very address checked here.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_SIXTOFOUR = ipaddress.ip_network("2002::/16")
_SITE_LOCAL = ipaddress.ip_network("fec0::/10")
# Special-purpose ranges (IANA registries) refused whatever the ipaddress
# module's is_global says for them in this Python version.
_SPECIAL = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
        "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
        "::/127", "100::/64", "2001::/23", "2001:db8::/32", "fc00::/7", "fe80::/10", "fec0::/10",
        "ff00::/8",
    )
)  # fmt: skip
_HOST = re.compile(r"^[A-Za-z0-9.-]{1,253}$")


class Refused(ValueError):
    """The target is not allowed; the message says why."""


@dataclass(frozen=True, slots=True)
class Target:
    scheme: str
    host: str  # a DNS name, or the canonical text of an IP address
    port: int
    path: str  # path and query, at least "/"
    literal: IPAddress | None  # the host, when it is an IP address

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def _inet_aton(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 forms of inet_aton(3): 1 to 4 parts, each decimal, octal (0…) or hex (0x…)."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or not all(parts):
        return None
    values = []
    for part in parts:
        p = part.lower()
        try:
            if p.startswith("0x"):
                values.append(int(p[2:], 16) if len(p) > 2 else 0)
            elif len(p) > 1 and p.startswith("0"):
                values.append(int(p[1:], 8))
            else:
                values.append(int(p, 10))
        except ValueError:
            return None
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (5 - len(values)):
        return None
    n = 0
    for v in head:
        n = (n << 8) | v
    n = (n << (8 * (5 - len(values)))) | last
    return ipaddress.IPv4Address(n)


def parse_ip(host: str) -> IPAddress | None:
    h = host.strip("[]")
    if "%" in h:  # an IPv6 zone id: never a public address
        raise Refused("IPv6 zone identifiers are not allowed")
    try:
        return ipaddress.ip_address(h)
    except ValueError:
        pass
    return _inet_aton(h) if re.fullmatch(r"[0-9a-fA-FxX.]+", h) else None


def embedded_ipv4(addr: IPAddress) -> ipaddress.IPv4Address | None:
    if isinstance(addr, ipaddress.IPv4Address):
        return None
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    if addr in _NAT64 or addr in _NAT64_LOCAL:
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    if addr in _SIXTOFOUR:
        return ipaddress.IPv4Address((int(addr) >> 80) & 0xFFFFFFFF)
    if int(addr) >> 32 == 0 and int(addr) > 1:  # deprecated IPv4-compatible ::a.b.c.d
        return ipaddress.IPv4Address(int(addr))
    return None


def address_problem(addr: IPAddress, *, allow_loopback: bool = False) -> str | None:
    """Why this address may not be called, or None when it may."""
    inner = embedded_ipv4(addr)
    if inner is not None:
        problem = address_problem(inner, allow_loopback=allow_loopback)
        return f"{problem} (inside {addr})" if problem else None
    if allow_loopback and addr.is_loopback:
        return None
    if addr.is_loopback:
        return f"{addr} is a loopback address"
    if addr.is_unspecified:
        return f"{addr} is the unspecified address"
    if addr.is_link_local:
        return f"{addr} is link-local"
    if addr.is_multicast:
        return f"{addr} is multicast"
    if isinstance(addr, ipaddress.IPv6Address) and addr in _SITE_LOCAL:
        return f"{addr} is site-local"
    if addr.is_private:
        return f"{addr} is a private address"
    if addr.is_reserved or not addr.is_global or any(addr in net for net in _SPECIAL):
        return f"{addr} is reserved or not globally routable"
    return None


def parse_target(url: str, *, allow_loopback: bool = False) -> Target:
    """Check the URL's form; raise Refused with the reason. DNS names are checked later."""
    if any(ch in url for ch in "\r\n\t\x00 \\") or not url.isascii():
        raise Refused(
            "the URL contains whitespace, a backslash, a control or a non-ASCII character"
        )
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise Refused(f"scheme {parts.scheme!r} is not allowed: http or https only")
    if "@" in parts.netloc:
        raise Refused("credentials in the URL are not allowed")
    host = parts.hostname or ""
    if not host:
        raise Refused("the URL has no host")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise Refused("the port is not a number from 1 to 65535") from None
    literal = parse_ip(host)
    if literal is not None:
        problem = address_problem(literal, allow_loopback=allow_loopback)
        if problem:
            raise Refused(problem)
        host = str(literal)
    elif not _HOST.match(host):
        raise Refused(f"{host!r} is not a valid host name")
    elif host.rstrip(".").lower() in ("localhost",) or host.lower().endswith(".localhost"):
        if not allow_loopback:
            raise Refused(f"{host!r} names this machine")
    loopback_target = allow_loopback and (
        (literal is not None and literal.is_loopback) or host.lower() == "localhost"
    )
    if port not in (80, 443) and not loopback_target:
        raise Refused(f"port {port} is not allowed: 80 and 443 only")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme, host.lower(), port, path, literal)


def check_resolved(addresses: list[IPAddress], *, allow_loopback: bool = False) -> IPAddress:
    """Every address must be allowed (a name that resolves to one private
    address among public ones is refused); return the one to connect to."""
    if not addresses:
        raise Refused("the host name does not resolve")
    for addr in addresses:
        problem = address_problem(addr, allow_loopback=allow_loopback)
        if problem:
            raise Refused(f"the host resolves to {problem}")
    return addresses[0]
