"""One HTTP/1.1 request to one checked address, no redirects followed.

The host is resolved once, every address is checked (tracker.domain.ssrf),
and the connection goes to the checked address itself, with the host name
only in ``Host`` and TLS SNI/certificate verification. Resolver and
connector are injected so that tests can prove no connection is opened.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tracker.domain.ssrf import IPAddress, Refused, Target, check_resolved, parse_target

Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]
Connector = Callable[
    [IPAddress, Target, float], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]
]

MAX_RESPONSE = 4096  # bytes of the answer kept in the attempt log


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(info[4][0]) for info in infos]


async def tcp_connector(
    addr: IPAddress, target: Target, timeout_s: float
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    tls = ssl.create_default_context() if target.scheme == "https" else None
    return await asyncio.wait_for(
        asyncio.open_connection(
            str(addr), target.port, ssl=tls, server_hostname=target.host if tls else None
        ),
        timeout_s,
    )


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    status: int | None
    latency_ms: float
    address: str | None
    error: str | None
    response: str

    @property
    def refused(self) -> bool:
        return self.error is not None and self.error.startswith("refused:")


@dataclass(frozen=True)
class HttpClient:
    resolver: Resolver = system_resolver
    connector: Connector = tcp_connector
    timeout_s: float = 10.0
    allow_loopback: bool = False

    async def check(self, url: str) -> tuple[Target, IPAddress]:
        target = parse_target(url, allow_loopback=self.allow_loopback)
        if target.literal is not None:
            return target, target.literal
        addrs = await asyncio.wait_for(self.resolver(target.host, target.port), self.timeout_s)
        return target, check_resolved(addrs, allow_loopback=self.allow_loopback)

    async def send(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None
    ) -> Outcome:
        t0 = time.perf_counter()
        try:
            target, addr = await self.check(url)
        except Refused as exc:
            return Outcome(False, None, 0.0, None, f"refused: {exc}", "")
        except (OSError, TimeoutError) as exc:
            return Outcome(False, None, _ms(t0), None, f"resolve: {exc!r}", "")
        try:
            status, text = await asyncio.wait_for(
                self._exchange(method, target, addr, headers, body), self.timeout_s
            )
        except (OSError, TimeoutError, ValueError, ssl.SSLError) as exc:
            return Outcome(
                False, None, _ms(t0), str(addr), f"{type(exc).__name__}: {exc}"[:500], ""
            )
        ok = 200 <= status < 300
        error = (
            None if ok else ("redirect not followed" if 300 <= status < 400 else f"HTTP {status}")
        )
        return Outcome(ok, status, _ms(t0), str(addr), error, text)

    async def _exchange(self, method: str, target: Target, addr: IPAddress,
                        headers: dict[str, str], body: bytes | None) -> tuple[int, str]:  # fmt: skip
        reader, writer = await self.connector(addr, target, self.timeout_s)
        try:
            lines = [f"{method} {target.path} HTTP/1.1", f"Host: {target.host_header}",
                     "User-Agent: tracker-postback/1", "Connection: close", "Accept: */*"]  # fmt: skip
            lines += [f"{k}: {v}" for k, v in headers.items()]
            if body is not None:
                lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + (body or b""))
            await writer.drain()
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = await reader.read(4096)
                if not chunk or len(head) > 65536:
                    break
                head += chunk
            header_block, _, text = head.partition(b"\r\n\r\n")
            lines_in = header_block.decode("latin-1").split("\r\n")
            parts = lines_in[0].split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
                raise ValueError(f"not an HTTP response: {lines_in[0][:80]!r}")
            length = None
            for line in lines_in[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length" and value.strip().isdigit():
                    length = int(value.strip())
            want = min(length if length is not None else MAX_RESPONSE, MAX_RESPONSE)
            while len(text) < want:
                chunk = await reader.read(want - len(text))
                if not chunk:
                    break
                text += chunk
            return int(parts[1]), text[:MAX_RESPONSE].decode("utf-8", "replace")
        finally:
            writer.close()


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 3)
