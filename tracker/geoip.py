"""What MaxMind-format databases say of an address: the place (``TRACKER_GEOIP_DB``:
country, region, city) and the network (``TRACKER_ASN_DB``, GeoLite2-ASN layout:
AS number and organisation, and whether it is a hosting/cloud network).

Used by the worker (every click) and by the redirect (``{country}`` without a
country header, and traffic rules on datacenter traffic). Readers are opened
once (maxminddb's C reader) and lookups cached per /24 where the database's own
network is that wide; without a database every answer is empty.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import maxminddb

from tracker.domain.datacenters import is_datacenter


def v4_prefix(prefix: int) -> int:
    """The prefix length of an IPv4 lookup's network: maxminddb gives it in IPv4 terms
    (32 for a /32), older releases in the IPv6 tree's (128); a /32 taken for a /8 put a
    whole /24 in one address's place."""
    return prefix - 96 if prefix > 32 else prefix


class Place(NamedTuple):
    country: str
    region: str
    city: str


NOWHERE = Place("", "", "")


def _name(node: Any) -> str:
    if not isinstance(node, dict):
        return ""
    names = node.get("names")
    if isinstance(names, dict):
        return str(names.get("en", ""))[:128]
    return ""


def place_of(record: Any) -> Place:
    if not isinstance(record, dict):
        return NOWHERE
    country = record.get("country") or record.get("registered_country") or {}
    iso = str(country.get("iso_code", "")) if isinstance(country, dict) else ""
    subdivisions = record.get("subdivisions") or []
    region = ""
    if isinstance(subdivisions, list) and subdivisions and isinstance(subdivisions[0], dict):
        region = str(subdivisions[0].get("iso_code", "") or _name(subdivisions[0]))[:64]
    return Place(iso[:2], region, _name(record.get("city")))


class Geo:
    """A reader opened once; ``lookup`` never raises.

    IPv4 answers are cached per /24 when the database's own network for the
    address is a /24 or wider (the usual case), else per address.
    """

    def __init__(self, path: Path | None) -> None:
        self._reader = maxminddb.open_database(str(path)) if path else None
        self._nets: dict[str, Place] = {}
        self._exact = lru_cache(maxsize=50_000)(self._lookup)

    def lookup(self, ip: str) -> Place:
        if self._reader is None or not ip:
            return NOWHERE
        net = ip.rpartition(".")[0] if ":" not in ip else ""
        hit = self._nets.get(net) if net else None
        if hit is not None:
            return hit
        return self._exact(ip)

    def per_network(self, ip: str) -> bool:
        """Whether every address of this IPv4 address's /24 has its place (after lookup)."""
        return self._reader is None or ip.rpartition(".")[0] in self._nets

    def _lookup(self, ip: str) -> Place:
        assert self._reader is not None
        try:
            record, prefix = self._reader.get_with_prefix_len(ip)
        except (ValueError, TypeError):
            return NOWHERE
        place = place_of(record)
        if ":" not in ip and v4_prefix(prefix) <= 24:
            if len(self._nets) > 200_000:
                self._nets.clear()
            self._nets[ip.rpartition(".")[0]] = place
        return place

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()


class Network(NamedTuple):
    asn: int | None
    org: str
    datacenter: bool


NO_NETWORK = Network(None, "", False)


def network_of(record: Any, extra: frozenset[int] = frozenset()) -> Network:
    if not isinstance(record, dict):
        return NO_NETWORK
    asn = record.get("autonomous_system_number")
    if not isinstance(asn, int) or asn <= 0:
        return NO_NETWORK
    org = str(record.get("autonomous_system_organization") or "")[:128]
    return Network(asn, org, is_datacenter(asn) or asn in extra)


class Asn:
    """The ASN database's reader; ``lookup`` never raises (cached like ``Geo``)."""

    def __init__(self, path: Path | None, extra_datacenters: frozenset[int] = frozenset()) -> None:
        self._reader = maxminddb.open_database(str(path)) if path else None
        self._extra = extra_datacenters
        self._nets: dict[str, Network] = {}
        self._exact = lru_cache(maxsize=50_000)(self._lookup)

    @property
    def enabled(self) -> bool:
        return self._reader is not None

    def lookup(self, ip: str) -> Network:
        if self._reader is None or not ip:
            return NO_NETWORK
        if ":" not in ip:
            hit = self._nets.get(ip.rpartition(".")[0])
            if hit is not None:
                return hit
        return self._exact(ip)

    def per_network(self, ip: str) -> bool:
        """Whether every address of this IPv4 address's /24 has its network (after lookup)."""
        return self._reader is None or ip.rpartition(".")[0] in self._nets

    def _lookup(self, ip: str) -> Network:
        assert self._reader is not None
        try:
            record, prefix = self._reader.get_with_prefix_len(ip)
        except (ValueError, TypeError):
            return NO_NETWORK
        network = network_of(record, self._extra)
        if ":" not in ip and v4_prefix(prefix) <= 24:
            if len(self._nets) > 200_000:
                self._nets.clear()
            self._nets[ip.rpartition(".")[0]] = network
        return network

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
