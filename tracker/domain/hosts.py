"""Tracking domains (pure): which Host a request names, and which domain a URL gets.

docs/adr/0096. A link goes out on its advertiser's domain (the click cookie is then
first-party on the merchant's site, where the pixel and the SDK read it), else its
partner's, else the network's; a merchant-facing URL (pixel, SDK) on the advertiser's,
else the network's. Within one scope the newest domain is handed out (older ones keep
answering). A handed-out URL keeps the scheme and port of the tracker's own public URL:
every tracking domain is served by the same front.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

# Answered on any Host: load balancers, Prometheus and a TLS front asking whether it may
# get a certificate reach the tracker by address.
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/tls-check"})


@dataclass(frozen=True)
class TrackingDomain:
    id: int
    hostname: str
    scope: str  # network, advertiser, partner
    advertiser_id: int | None
    affiliate_id: int | None


def host_name(header: bytes) -> bytes:
    """The host of a ``Host`` header: lower case, without port or trailing dot."""
    h = header.strip().lower()
    if h.startswith(b"["):  # [v6]:port
        return h[: h.find(b"]") + 1]
    return h.partition(b":")[0].rstrip(b".")


def own_host(base_url: str) -> str:
    """The tracker's own host name (of TRACKER_PUBLIC_URL): always answered."""
    host = urlsplit(base_url).hostname or ""
    return f"[{host}]" if ":" in host else host


def allowed_hosts(domains: Iterable[str], base_url: str) -> frozenset[bytes]:
    """The Host names answered; empty (every Host) while no domain is registered."""
    names = {d.encode() for d in domains}
    if not names:
        return frozenset()
    return frozenset(names | {own_host(base_url).encode()})


def pick(domains: Iterable[TrackingDomain], advertiser_id: int | None,
         affiliate_id: int | None = None, *, link: bool = False) -> str | None:  # fmt: skip
    """The hostname a URL goes out on, or None for the tracker's own address."""
    best: dict[str, TrackingDomain] = {}
    for d in domains:
        if d.scope == "advertiser" and d.advertiser_id != advertiser_id:
            continue
        if d.scope == "partner" and (not link or d.affiliate_id != affiliate_id):
            continue
        seen = best.get(d.scope)
        if seen is None or d.id > seen.id:
            best[d.scope] = d
    for scope in ("advertiser", "partner", "network"):
        if scope in best:
            return best[scope].hostname
    return None


def on_domain(base_url: str, hostname: str | None) -> str:
    """``base_url`` with its host replaced by ``hostname`` (scheme and port kept)."""
    if hostname is None:
        return base_url.rstrip("/")
    parts = urlsplit(base_url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{hostname}{port}{parts.path.rstrip('/')}"
