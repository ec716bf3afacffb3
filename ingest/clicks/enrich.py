"""Enrichment done by the worker, off the hot path: IP privacy, device, place, class.

The full IP address is only ever in memory: rows get the truncated network
(/24, /48) and a keyed hash whose key (the salt) changes every UTC day, so
fraud rules can compare visitors within a day but nobody can reverse it.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
from datetime import date, timedelta
from functools import lru_cache
from hashlib import blake2b

import asyncpg

from ingest.clicks.copytext import NULL, escape, opt
from ingest.clicks.useragent import parse_agent
from tracker.geoip import NO_NETWORK, NOWHERE, Asn, Geo, Network

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_V4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
_OCTETS = frozenset(str(n) for n in range(256))  # what _OCTET matches
SALT_KEEP_DAYS = 2  # older salts are deleted: yesterday's late clicks still hash alike


def truncate_ip(ip: str) -> str | None:
    """/24 for IPv4, /48 for IPv6: the full address is never stored."""
    if _V4.fullmatch(ip):
        return ip.rpartition(".")[0] + ".0"
    return _truncate_other(ip)


@lru_cache(maxsize=10_000)
def _truncate_other(ip: str) -> str | None:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    prefix = 24 if addr.version == 4 else 48
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False).network_address)


def ip_hash(ip: str, salt: bytes) -> str:
    """Hex of a keyed hash of the full address ('' without an address)."""
    if not ip:
        return ""
    return hashlib.blake2b(ip.encode(), key=salt, digest_size=16).hexdigest()


class DailySalts:
    """One random salt per UTC day, shared by every worker through Postgres."""

    def __init__(self) -> None:
        self._known: dict[date, bytes] = {}

    async def load(self, conn: asyncpg.Connection | asyncpg.Pool, days: set[date]) -> None:
        for day in days - self._known.keys():
            salt = await conn.fetchval(
                """WITH ins AS (INSERT INTO ip_salts (day, salt) VALUES ($1, $2)
                                ON CONFLICT (day) DO NOTHING RETURNING salt)
                   SELECT salt FROM ins UNION ALL SELECT salt FROM ip_salts WHERE day = $1""",
                day,
                os.urandom(16),
            )
            self._known[day] = bytes(salt)
        if len(self._known) > 8:  # bounded, but never a day this batch is about to use
            for old in sorted(self._known.keys() - days)[: len(self._known) - 8]:
                del self._known[old]

    def get(self, day: date) -> bytes:
        return self._known[day]

    @staticmethod
    async def forget_old(conn: asyncpg.Connection | asyncpg.Pool, today: date) -> None:
        await conn.execute(
            "DELETE FROM ip_salts WHERE day < $1", today - timedelta(days=SALT_KEEP_DAYS)
        )


class Enricher:
    """Enrichment as ready-made COPY text blocks, cached per address and per agent.

    ``ip_block`` → (``ip_trunc, ip_hash, country, region, city, asn, asn_org, datacenter``
    as COPY text, country); ``agent_block`` → (``user_agent, device, os, browser`` as COPY
    text, class, device).
    Visitors and agents come back, so most clicks are two dictionary hits. A new IPv4
    address in a known /24 costs only its hash: the network's truncated address and
    place are kept per /24 (when the GeoIP database answers for the whole /24).
    """

    def __init__(self, geo: Geo, salts: DailySalts, asn: Asn | None = None) -> None:
        self.geo = geo
        self.asn = asn or Asn(None)
        self.salts = salts
        self._ips: dict[date, dict[str, tuple[str, str]]] = {}
        # "a.b.c" → ("a.b.c.0\t", "country\tregion\tcity", country)
        self._nets: dict[str, tuple[str, str, str]] = {}
        self._agents: dict[str, dict[str, tuple[str, str, str]]] = {}

    def ips(self, day: date) -> dict[str, tuple[str, str]]:
        """The day's address cache (the salt, hence the hash, changes every day)."""
        hits = self._ips.get(day)
        if hits is None or len(hits) >= 200_000:
            if len(self._ips) >= 4:
                self._ips.clear()
            hits = self._ips[day] = {}
        return hits

    def ip_block(self, ip: str, day: date) -> tuple[str, str]:
        hits = self.ips(day)
        hit = hits.get(ip)
        return self.new_ip(ip, day, hits) if hit is None else hit

    def new_ip(self, ip: str, day: date, hits: dict[str, tuple[str, str]]) -> tuple[str, str]:
        """An address not in the day's cache (``hits``, from ips()): enrich it, keep it."""
        net, _, last = ip.rpartition(".")
        known = self._nets.get(net) if last in _OCTETS else None
        if known is not None:
            digest = blake2b(ip.encode(), key=self.salts.get(day), digest_size=16).hexdigest()
            hit = (f"{known[0]}\\\\x{digest}\t{known[1]}", known[2])
        else:
            place = self.geo.lookup(ip) if ip else NOWHERE
            network = self.asn.lookup(ip) if ip else NO_NETWORK
            hashed = ip_hash(ip, self.salts.get(day))
            trunc = opt(truncate_ip(ip) if ip else None)
            where = "\t".join((escape(place.country), escape(place.region), escape(place.city),
                               network_text(network)))  # fmt: skip
            hash_text = "\\\\x" + hashed if hashed else NULL
            hit = (f"{trunc}\t{hash_text}\t{where}", place.country)
            if _V4.fullmatch(ip) and self.geo.per_network(ip) and self.asn.per_network(ip):
                if len(self._nets) >= 100_000:
                    self._nets.clear()
                self._nets[net] = (f"{trunc}\t", where, place.country)
        hits[ip] = hit
        return hit

    def agents(self, cls: str) -> dict[str, tuple[str, str, str]]:
        """The agent cache for one class from the redirect."""
        hits = self._agents.get(cls)
        if hits is None or len(hits) >= 50_000:
            hits = self._agents[cls] = {}
        return hits

    def agent_block(self, ua: str, cls: str) -> tuple[str, str, str]:
        hit = self.agents(cls).get(ua)
        return self.new_agent(ua, cls) if hit is None else hit

    def new_agent(self, ua: str, cls: str) -> tuple[str, str, str]:
        # The class is the redirect's, unchanged: it already decided the click's cap and
        # unique slot with it (tracker.domain.classify, tracker.domain.counted).
        agent = parse_agent(ua)
        device = "bot" if cls in ("bot", "preview") and not agent.device else agent.device
        block = "\t".join((opt(ua), device, escape(agent.os), escape(agent.browser)))
        hit = self.agents(cls)[ua] = (block, cls, device)
        return hit


def network_text(network: Network) -> str:
    """``asn, asn_org, datacenter`` as COPY text."""
    if network.asn is None:
        return f"{NULL}\t\tf"
    return f"{network.asn}\t{escape(network.org)}\t{'t' if network.datacenter else 'f'}"
