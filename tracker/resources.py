"""The process's open resources, created in one lifespan and closed in it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import asyncpg
from redis.asyncio import Redis

from tracker.settings import Settings


@dataclass
class Services:
    settings: Settings
    pool: asyncpg.Pool
    redis: Redis
    key_cache: dict[str, tuple[object, float]] = field(default_factory=dict)


class Component(Protocol):
    """Something that runs beside the API in the same process (link cache,
    click sink, ingest worker): started after the pools open, stopped before
    they close, in reverse order."""

    async def start_with(self, services: Services) -> None: ...

    async def stop(self) -> None: ...
