"""The click sink against real Redis: packed entries, a hung Redis, spool and replay."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from redirect.sink import ClickSink
from tests.redirect.helpers import stream_events
from tracker import redis_keys
from tracker.redis_client import open_redis
from tracker.resources import Services
from tracker.settings import Settings


def _click(i: int) -> dict[str, Any]:
    return {"click_id": f"00000000-0000-7000-8000-{i:012d}", "ts": 1.0, "kind": "click",
            "offer_id": 5, "aff_id": 6, "cls": "human"}  # fmt: skip


async def _hung_redis() -> tuple[asyncio.Server, int]:
    """Accepts connections and never answers (a stalled Redis)."""

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1 << 20)
        await asyncio.sleep(30)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_hung_redis_spools_within_the_deadline_then_replays(
    settings: Settings, redis: Redis, tmp_path: Path
) -> None:
    settings = settings.model_copy(update={"sink_deadline_s": 0.2, "stream_shards": 2,
                                           "spool_dir": tmp_path / "spool"})  # fmt: skip
    server, port = await _hung_redis()
    hung = open_redis(settings, f"redis://127.0.0.1:{port}/0")
    sink = ClickSink(redis_keys.of(settings).click_streams(), 100, 5, 100_000)
    await sink.start_with(Services(settings, None, hung))  # type: ignore[arg-type]
    try:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        for i in range(250):
            sink.add(_click(i))  # never awaits
        assert loop.time() - t0 < 0.01
        for _ in range(100):
            if sink.spool and sink.spool.bytes and not sink.buffered:
                break
            await asyncio.sleep(0.05)
        assert not sink.redis_up and sink.spool is not None and sink.spool.bytes > 0
        assert await stream_events(redis, settings) == []

        sink._redis = redis  # Redis answers again
        for _ in range(100):
            if sink.redis_up and sink.spool.bytes == 0:
                break
            await asyncio.sleep(0.05)
        sink.add(_click(250))
        events = await stream_events(redis, settings, 251)
        assert sorted(e["click_id"] for e in events) == sorted(
            _click(i)["click_id"] for i in range(251)
        )
        # Spread over both shards.
        for stream in redis_keys.of(settings).click_streams():
            assert await redis.xlen(stream) > 0
    finally:
        await sink.stop()
        await hung.aclose()
        server.close()
