"""Which servers to use: the configured ones, or the embedded ones in the data folder."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from tracker.runtime.embedded_pg import EmbeddedPostgres
from tracker.runtime.embedded_redis import EmbeddedRedis
from tracker.settings import Settings


@dataclass(frozen=True)
class ServerUrls:
    database_url: str
    redis_url: str


@contextlib.contextmanager
def servers(settings: Settings, *, owner: bool = False) -> Iterator[ServerUrls]:
    """Yield the URLs to use. Embedded servers are started (or reused when a
    previous run left them up) for whichever URL is unset. On exit, an
    ``owner`` (``tracker up``) stops the embedded servers it used; any other
    command stops only those it had to start itself, so that ``tracker keys``
    run beside ``tracker up`` leaves the running service alone."""
    pg = redis = None
    try:
        if settings.database_url:
            db_url = settings.database_url
        else:
            pg = EmbeddedPostgres(settings.data_dir)
            db_url = pg.start()
        if settings.redis_url:
            redis_url = settings.redis_url
        else:
            redis = EmbeddedRedis(settings.data_dir)
            redis_url = redis.start()
        yield ServerUrls(db_url, redis_url)
    finally:
        if redis is not None and (owner or redis.started_here):
            redis.stop()
        if pg is not None and (owner or pg.started_here):
            pg.stop()
