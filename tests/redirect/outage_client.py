"""The paced keep-alive client of the outage test, in a process of its own.

Run by ``test_outage.py`` so that the measured latencies are the server's,
not pauses of the (large) test process: ``python -m tests.redirect.outage_client
PORT CODE CLICKS RATE CONNECTIONS START_EPOCH``; prints JSON with the
statuses, click ids from the ``Location`` headers and latencies in seconds.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time
from urllib.parse import parse_qs, urlsplit

import orjson

UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36"


async def _one_connection(port: int, code: str, k: int, clicks: int, rate: int, conns: int,
                          t0: float, out: dict[str, list[object]]) -> None:  # fmt: skip
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    loop = asyncio.get_running_loop()
    try:
        for i in range(k, clicks, conns):
            delay = t0 + i / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            start = loop.time()
            writer.write(f"GET /c/{code}?sub1={i} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         f"User-Agent: {UA}\r\n\r\n".encode())  # fmt: skip
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            out["lat"].append(loop.time() - start)
            lines = head.decode("latin-1").split("\r\n")
            out["statuses"].append(int(lines[0].split()[1]))
            for line in lines[1:]:
                if line.lower().startswith("location:"):
                    query = urlsplit(line.split(":", 1)[1].strip()).query
                    out["ids"].append(parse_qs(query)["cid"][0])
    finally:
        writer.close()


async def main(
    port: int, code: str, clicks: int, rate: int, conns: int, start_epoch: float
) -> None:
    out: dict[str, list[object]] = {"ids": [], "lat": [], "statuses": []}
    loop = asyncio.get_running_loop()
    t0 = loop.time() + (start_epoch - time.time())
    gc.disable()  # nothing here lives long enough to need it
    await asyncio.gather(*(_one_connection(port, code, k, clicks, rate, conns, t0, out)
                           for k in range(conns)))  # fmt: skip
    sys.stdout.buffer.write(orjson.dumps(out))


if __name__ == "__main__":
    a = sys.argv[1:]
    asyncio.run(main(int(a[0]), a[1], int(a[2]), int(a[3]), int(a[4]), float(a[5])))
