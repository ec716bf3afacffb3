"""The composition root: the one package that imports
``redirect`` and ``ingest`` (see docs/adr/0001-composition-root.md).
It wires the parts into processes; the parts never import each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
from typing import Any

import asyncpg
import uvicorn

from ingest import health
from ingest.component import WorkerComponent
from ingest.partner_postbacks.component import SenderComponent, make_sender
from ingest.worker import Worker
from redirect.caps import ClickCaps
from redirect.front import RedirectFront
from redirect.hosts import HostGate
from redirect.links import LinkCache
from redirect.sink import ClickSink
from tracker import logs, redis_keys
from tracker.api.app import create_api
from tracker.exposition import Publisher
from tracker.probe import DependencyProbe, probe_forever
from tracker.redis_client import open_redis
from tracker.resources import Component
from tracker.settings import Settings
from tracker.store.db import open_pool

log = logging.getLogger("tracker")

# Tells a server's worker process (service/worker_app.py) whether to run the ingest worker.
WITH_WORKER_ENV = "TRACKER_WORKER_APP_WITH_INGEST"
WORKER_APP = "service.worker_app:app"


def build_app(settings: Settings, database_url: str, redis_url: str, *, with_worker: bool) -> Any:
    """The ASGI app of one process: raw redirect route in front of the API."""
    links = LinkCache(settings.link_refresh_s)
    sink = ClickSink(
        redis_keys.of(settings).click_streams(), settings.click_batch_max, settings.click_batch_ms,
        settings.click_buffer_max,
    )  # fmt: skip
    hosts = HostGate(settings.link_refresh_s)
    # Click caps: one counter shared by every click of the process (redirect.caps); a paid
    # click on a capped offer waits at most this long for its reservation.
    caps = ClickCaps(redis_keys.of(settings), min(settings.sink_deadline_s, 0.25))
    components: list[Component] = [links, sink, hosts, caps, DependencyProbe(), Publisher()]
    if with_worker:
        components += [WorkerComponent(), SenderComponent()]
    api = create_api(settings, database_url, redis_url, components)
    front = RedirectFront(api, links, sink, hosts, caps, settings)
    front.openapi = api.openapi  # type: ignore[attr-defined]
    return front


def serve(settings: Settings, database_url: str, redis_url: str, *, with_worker: bool,
          workers: int = 1) -> None:  # fmt: skip
    """Serve the app on settings.host:port with ``workers`` processes (docs/adr/0101):
    one process runs the app here; several are the server's own worker processes on one
    listening socket, each building the app (own batch, spool folder, caches)."""
    if settings.server == "granian":
        _serve_granian(settings, database_url, redis_url, with_worker=with_worker,
                       workers=workers)  # fmt: skip
        return
    options: dict[str, Any] = dict(
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        proxy_headers=False,  # X-Forwarded-For is not trusted by default
        access_log=False,
        log_level=settings.log_level,
        log_config=None,  # uvicorn's loggers go through ours (tracker/logs.py)
        timeout_graceful_shutdown=10,
    )
    if workers > 1:
        # uvicorn's supervisor: binds the socket, starts the workers (fresh interpreters
        # that import the factory), restarts one that dies, and on SIGTERM/SIGINT stops
        # each gracefully (connections finished, lifespan shutdown: the batch flushed).
        _hand_down(settings, database_url, redis_url, with_worker)
        uvicorn.run(WORKER_APP, factory=True, workers=workers, **options)
        return
    app = build_app(settings, database_url, redis_url, with_worker=with_worker)
    server = uvicorn.Server(uvicorn.Config(app, **options))
    # uvicorn re-raises the signal it caught once it has shut down; with
    # handlers of our own installed first, that re-raise lands here and the
    # caller still gets to stop the embedded servers.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)
    server.run()


def _hand_down(settings: Settings, database_url: str, redis_url: str, with_worker: bool) -> None:
    """What a worker process that builds the app itself needs from this one: the servers,
    and the address given on the command line (the links it hands out are built on it)."""
    os.environ.update(
        TRACKER_DATABASE_URL=database_url, TRACKER_REDIS_URL=redis_url,
        TRACKER_HOST=settings.host, TRACKER_PORT=str(settings.port),
        **{WITH_WORKER_ENV: "1" if with_worker else "0"},
    )  # fmt: skip


def _serve_granian(settings: Settings, database_url: str, redis_url: str, *,
                   with_worker: bool, workers: int) -> None:  # fmt: skip
    """The same app under granian (docs/adr/0013-granian-option.md): its worker
    processes build the app themselves from the environment set here."""
    try:
        from granian import Granian
        from granian.constants import Interfaces, Loops
        from granian.log import LogLevels
    except ImportError:
        raise SystemExit(
            "TRACKER_SERVER=granian needs granian: pip install 'tracker[granian]'"
        ) from None
    _hand_down(settings, database_url, redis_url, with_worker)
    Granian(
        WORKER_APP,
        factory=True,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        workers=workers,
        loop=Loops.uvloop,
        websockets=False,
        log_level=LogLevels(settings.log_level.lower()),
        log_access=False,
        log_dictconfig=logs.dict_config(settings.log_format),
        respawn_failed_workers=True,  # as uvicorn's supervisor does
        workers_kill_timeout=15,  # past the sink's flush and the worker's grace
    ).serve()


async def ingest(settings: Settings, database_url: str, redis_url: str, *, burst: bool) -> None:
    """Run one worker until SIGTERM/SIGINT (or, with ``burst``, until drained).

    A signal stops reading; the batch in hand is committed within
    ``ingest_grace_s``, after which the worker is cancelled (its entries stay
    pending and another worker claims them).
    """
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    pool = None
    backoff = 0.1
    while pool is None and not stopping.is_set():  # Postgres may be (re)starting: wait for it
        try:
            pool = await open_pool(settings, database_url, max_size=4)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            log.warning("ingest: waiting for Postgres: %r", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), backoff)
            backoff = min(backoff * 2, 2.0)
    if pool is None:
        return
    redis = open_redis(settings, redis_url, block_ms=settings.ingest_block_ms)
    worker = Worker(settings, pool, redis, claim_idle_ms=1_000 if burst else None)
    if stopping.is_set():
        worker.stop()
    # Long-lived objects (modules, caches' first entries) out of the collector's way;
    # batches allocate many short-lived objects, so young collections run less often.
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 50)
    sender = make_sender(settings, pool)

    async def run() -> None:
        if burst:
            await worker.run(burst=True)
            while await sender.run_once():  # what is due now; retries stay queued
                pass
        else:
            drain_s = min(settings.postback_timeout_s, settings.ingest_grace_s / 2)
            await asyncio.gather(worker.run(), sender.run(drain_s=drain_s))

    task = asyncio.create_task(run(), name="ingest")
    probe = None if burst else asyncio.create_task(probe_forever(pool, redis), name="probe")

    def on_signal() -> None:
        log.info("ingest: stopping (grace %.0fs)", settings.ingest_grace_s)
        worker.stop()
        sender.stop()
        loop.call_later(settings.ingest_grace_s, task.cancel)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    try:
        await task
    except asyncio.CancelledError:
        log.error("ingest: batch not committed within the grace period; left pending")
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
        if probe is not None:
            probe.cancel()
            await asyncio.gather(probe, return_exceptions=True)
        worker.geo.close()
        await redis.aclose()
        await pool.close()


async def ingest_check(settings: Settings, redis_url: str, consumer: str | None) -> int:
    """Exit status of `tracker ingest --check`: 0 when a worker made progress recently."""
    redis = open_redis(settings, redis_url)
    try:
        ok, lines = await health.check(
            redis, redis_keys.of(settings), settings.ingest_health_ttl_s, consumer
        )
    finally:
        await redis.aclose()
    for line in lines or ["no ingest worker heartbeat found"]:
        print(line)
    return 0 if ok else 1
