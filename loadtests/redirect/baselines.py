"""The two baselines of the redirect benchmark, served by the same uvicorn.

``raw_app``: a raw ASGI app answering a fixed 302, no I/O at all (the
ceiling of the server). ``naive_app``: the obvious FastAPI handler that
awaits one ``XADD`` per click before answering (``BENCH_REDIS_URL``).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from redis.asyncio import Redis

_LOCATION = b"https://shop.example/landing?cid=00000000-0000-7000-8000-000000000000"


async def raw_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send(
        {
            "type": "http.response.start",
            "status": 302,
            "headers": [(b"location", _LOCATION), (b"content-length", b"0")],
        }
    )
    await send({"type": "http.response.body", "body": b""})


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.redis = Redis.from_url(os.environ["BENCH_REDIS_URL"])
    yield
    await app.state.redis.aclose()


naive_app = FastAPI(lifespan=_lifespan)


@naive_app.get("/c/{code}")
async def naive_click(code: str, sub1: str | None = None) -> RedirectResponse:
    click_id = str(uuid.uuid4())
    await naive_app.state.redis.xadd(
        "bench:naive",
        {"click_id": click_id, "code": code, "sub1": sub1 or "", "ts": time.time()},
        maxlen=100_000,
        approximate=True,
    )
    return RedirectResponse(f"https://shop.example/landing?cid={click_id}", status_code=302)
