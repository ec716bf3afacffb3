"""The SSRF guard refuses internal targets before any connection is opened.

A stub resolver answers for names, and a connector that records every
connection attempt proves that nothing was dialled: no test here sends a
packet anywhere.
"""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

import pytest

from ingest.partner_postbacks.http import HttpClient
from tracker.domain.ssrf import IPAddress, Refused, Target, parse_target

NAMES: dict[str, list[str]] = {
    "loopback.example": ["127.0.0.1"],
    "loopback6.example": ["::1"],
    "private.example": ["10.0.0.5"],
    "metadata.example": ["169.254.169.254"],
    "mixed.example": ["93.184.216.34", "192.168.1.10"],  # one bad address is enough to refuse
    "mapped.example": ["::ffff:10.1.2.3"],
    "ula.example": ["fd12:3456::1"],
    "cgnat.example": ["100.64.1.1"],
    "public.example": ["93.184.216.34"],
    "public6.example": ["2606:4700:4700::1111"],
    "redirector.example": ["93.184.216.35"],
}


class Recorder:
    def __init__(self, response: bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") -> None:
        self.attempts: list[tuple[str, int, str]] = []
        self.response = response

    async def connect(self, addr: IPAddress, target: Target, timeout_s: float) -> tuple[Any, Any]:
        self.attempts.append((str(addr), target.port, target.host))
        reader = asyncio.StreamReader()
        reader.feed_data(self.response)
        reader.feed_eof()
        return reader, _Writer()


class _Writer:
    def __init__(self) -> None:
        self.sent = b""

    def write(self, data: bytes) -> None:
        self.sent += data

    async def drain(self) -> None:
        return None

    def close(self) -> None:
        return None


async def stub_resolver(host: str, port: int) -> list[IPAddress]:
    return [ipaddress.ip_address(a) for a in NAMES.get(host, [])]


REFUSED = [
    "http://127.0.0.1/", "http://127.1/", "http://127.0.1/", "http://0x7f000001/", "http://0x7f.0x0.0x0.0x1/",
    "http://2130706433/", "http://017700000001/", "http://0177.0.0.1/", "http://0/", "http://0.0.0.0/",
    "http://[::1]/", "http://[::]/", "http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/",
    "http://[0:0:0:0:0:ffff:127.0.0.1]/", "http://[::127.0.0.1]/", "http://[64:ff9b::7f00:1]/",
    "http://[2002:7f00:1::]/", "http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/",
    "http://[fd00::1]/", "http://[fc00::1]/", "http://[fec0::1]/", "http://10.0.0.1/", "http://172.16.0.1/",
    "http://172.31.255.255/", "http://192.168.0.1/", "http://100.64.0.1/", "http://224.0.0.1/",
    "http://239.255.255.250/", "http://255.255.255.255/", "http://[ff02::1]/", "http://198.18.0.1/",
    "http://192.0.0.8/", "http://240.0.0.1/", "http://localhost/", "http://app.localhost/",
    "http://loopback.example/", "http://loopback6.example/", "http://private.example/",
    "http://metadata.example/", "http://mixed.example/", "http://mapped.example/", "http://ula.example/",
    "http://cgnat.example/", "http://unresolvable.example/", "ftp://public.example/", "file:///etc/passwd",
    "gopher://public.example/", "http://public.example:8080/", "https://public.example:22/",
    "http://user:pw@public.example/", "http://public.example@127.0.0.1/", "http://[::1%25eth0]/",
    "http://public.example\r\nX: y/", "http://public\\.example/", "http://pub lic.example/",
    "javascript:alert(1)", "//public.example/", "http:///path",
]  # fmt: skip


def test_there_are_at_least_forty_refused_forms() -> None:
    assert len(set(REFUSED)) >= 40


@pytest.mark.parametrize("url", REFUSED)
async def test_refused_before_any_connection(url: str) -> None:
    rec = Recorder()
    client = HttpClient(resolver=stub_resolver, connector=rec.connect, timeout_s=1)
    outcome = await client.send("GET", url, {}, None)
    assert not outcome.ok and outcome.refused, outcome
    assert rec.attempts == []


@pytest.mark.parametrize(
    ("url", "address", "port"),
    [
        ("http://public.example/pb?x=1", "93.184.216.34", 80),
        ("https://public6.example/pb", "2606:4700:4700::1111", 443),
        ("http://93.184.216.34/pb", "93.184.216.34", 80),
        ("https://[2606:4700:4700::1111]:443/", "2606:4700:4700::1111", 443),
    ],
)
async def test_public_targets_connect_to_the_checked_address(
    url: str, address: str, port: int
) -> None:
    rec = Recorder()
    client = HttpClient(resolver=stub_resolver, connector=rec.connect, timeout_s=1)
    outcome = await client.send("GET", url, {}, None)
    assert outcome.ok and outcome.status == 200 and outcome.address == address
    assert rec.attempts == [(address, port, urlhost(url))]


def urlhost(url: str) -> str:
    return parse_target(url).host


async def test_a_redirect_is_not_followed() -> None:
    rec = Recorder(
        b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1/admin\r\nContent-Length: 0\r\n\r\n"
    )
    client = HttpClient(resolver=stub_resolver, connector=rec.connect, timeout_s=1)
    outcome = await client.send("GET", "http://redirector.example/pb", {}, None)
    assert not outcome.ok and outcome.status == 302 and outcome.error == "redirect not followed"
    assert rec.attempts == [
        ("93.184.216.35", 80, "redirector.example")
    ]  # one connection, no second


def test_loopback_only_with_the_development_setting() -> None:
    with pytest.raises(Refused):
        parse_target("http://127.0.0.1:8123/pb")
    t = parse_target("http://127.0.0.1:8123/pb", allow_loopback=True)
    assert (t.host, t.port) == ("127.0.0.1", 8123)
    with pytest.raises(Refused):  # the development setting opens loopback only
        parse_target("http://10.0.0.1/", allow_loopback=True)
    with pytest.raises(Refused):
        parse_target("http://public.example:8123/", allow_loopback=True)
