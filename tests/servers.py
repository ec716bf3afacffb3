"""Real servers for the tests: configured by URL, or embedded, started once per session."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import uvicorn

from tracker.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def run_server(app: Any, port: int) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn on 127.0.0.1 in this event loop, configured as
    `tracker serve` is (proxy headers off: X-Forwarded-For is believed only where
    TRACKER_TRUSTED_PROXIES says)."""
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", log_level="warning",
                            access_log=False, loop="asyncio", http="httptools", proxy_headers=False,
                            timeout_keep_alive=60)  # fmt: skip
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    if task.done():
        task.result()
        raise RuntimeError("server did not start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        # The app bounds each shutdown step (tracker/api/app.py) and logs a slow one; if
        # the whole still overruns, say where every task is before failing.
        done, _ = await asyncio.wait({task}, timeout=40)
        if not done:
            for t in asyncio.all_tasks():
                t.print_stack(file=sys.stderr)
            task.cancel()
            raise TimeoutError("the server did not shut down within 40 s (task stacks above)")
        task.result()


def cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a `tracker` subprocess that uses this test's servers and streams."""
    env = dict(os.environ)
    env.update(
        TRACKER_DATABASE_URL=settings.database_url or "",
        TRACKER_REDIS_URL=settings.redis_url or "",
        TRACKER_STREAM_PREFIX=settings.stream_prefix,
        TRACKER_STREAM_SHARDS=str(settings.stream_shards),
        TRACKER_DATA_DIR=str(settings.data_dir),
        TRACKER_LOG_LEVEL="warning",
    )
    env.update(extra)
    return env


async def ingest_burst(settings: Settings, timeout_s: float = 180, **extra: str) -> None:
    """`tracker ingest --burst`, the real command in its own process."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "service.cli", "ingest", "--burst", env=cli_env(settings, **extra),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    assert proc.returncode == 0, err.decode()
