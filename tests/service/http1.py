"""A keep-alive HTTP/1.1 connection to one server process, for the worker tests.

Several worker processes share one listening socket; which one serves a connection
is decided when it is accepted. ``Conn.server_pid`` finds it (psutil: the process
holding the other end of this socket), so a test can talk to each worker on purpose.
"""

from __future__ import annotations

import asyncio

import psutil


class Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.local_port: int = writer.get_extra_info("sockname")[1]

    @classmethod
    async def open(cls, port: int) -> Conn:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def get(self, target: str, headers: dict[str, str] | None = None,
                  timeout: float = 10) -> tuple[int, dict[str, str], bytes]:  # fmt: skip
        lines = [f"GET {target} HTTP/1.1", "Host: 127.0.0.1"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), timeout)
        status_line, *header_lines = head.decode("latin-1").rstrip("\r\n").split("\r\n")
        got = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            got[name.strip().lower()] = value.strip()
        length = int(got.get("content-length", "0"))
        body = await asyncio.wait_for(self.reader.readexactly(length), timeout) if length else b""
        return int(status_line.split()[1]), got, body

    def server_pid(self, candidates: list[int], port: int) -> int | None:
        """Which of ``candidates`` holds the server side of this connection."""
        for pid in candidates:
            try:
                conns = psutil.Process(pid).net_connections(kind="tcp")
            except psutil.NoSuchProcess:
                continue
            for c in conns:
                if c.laddr and c.raddr and c.laddr.port == port and c.raddr.port == self.local_port:
                    return pid
        return None

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except ConnectionError:
            pass
