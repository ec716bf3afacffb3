"""A partner's tracker in the tests: an HTTP server on 127.0.0.1 that records every request."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field


@dataclass
class Received:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    at: float = 0.0  # time.monotonic() when the request was read


@dataclass
class Receiver:
    port: int = 0
    requests: list[Received] = field(default_factory=list)
    # (request) -> (status, body) or None to never answer
    behave: Callable[[Received], tuple[int, bytes] | None] = lambda r: (200, b"ok")
    delay_s: float = 0.0  # wait this long before answering
    in_flight: int = 0  # requests read and not yet answered
    max_in_flight: int = 0


async def _handle(rx: Receiver, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        req = Received(method, target, headers, body, time.monotonic())
        rx.requests.append(req)
        rx.in_flight += 1
        rx.max_in_flight = max(rx.max_in_flight, rx.in_flight)
        try:
            answer = rx.behave(req)
            if answer is None:
                await asyncio.sleep(3600)  # never answers; cancelled when the server closes
                return
            await asyncio.sleep(rx.delay_s)
        finally:
            rx.in_flight -= 1
        status, payload = answer
        extra = "Location: http://127.0.0.1/internal\r\n" if 300 <= status < 400 else ""
        writer.write(
            f"HTTP/1.1 {status} X\r\nContent-Length: {len(payload)}\r\n{extra}Connection: close\r\n\r\n".encode()
            + payload
        )
        await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


@contextlib.asynccontextmanager
async def receiver() -> AsyncIterator[Receiver]:
    rx = Receiver()
    tasks: set[asyncio.Task[None]] = set()

    def on_connect(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        t = asyncio.ensure_future(_handle(rx, r, w))
        tasks.add(t)
        t.add_done_callback(tasks.discard)

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    rx.port = server.sockets[0].getsockname()[1]
    try:
        yield rx
    finally:
        server.close()
        for t in list(tasks):
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()
