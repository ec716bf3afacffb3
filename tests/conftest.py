"""Session fixtures: real PostgreSQL and Redis (embedded unless TRACKER_*_URL are set)."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from tests.lanes import SLOW_MODULES, SLOW_TESTS
from tests.servers import free_port, run_server
from tracker.redis_client import open_redis
from tracker.runtime.servers import ServerUrls, servers
from tracker.settings import Settings
from tracker.store.keys import create_key
from tracker.store.migrate import migrate_dsn


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Every temporary path of this run (the embedded servers' data among them) lives in a
    directory this run creates and removes. Pytest's shared root (/tmp/pytest-of-<user>)
    is re-permissioned by every run that starts; the embedded PostgreSQL runs as another
    user and must traverse the path, so a second suite on the machine used to make the
    first one's server panic."""
    if config.option.basetemp is None and not hasattr(config, "workerinput"):
        own = tempfile.mkdtemp(prefix="tracker-tests-")
        config.option.basetemp = os.path.join(own, "t")
        config._tracker_basetemp = own  # type: ignore[attr-defined]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests tests/lanes.py names as slow (the fast lane: ``-m "not slow"``)."""
    root = Path(str(config.rootpath))
    for item in items:
        module = item.path.relative_to(root).as_posix()
        name = item.nodeid.split("[", 1)[0].split("::", 1)[-1]
        if module in SLOW_MODULES or f"{module}::{name}" in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)


def pytest_unconfigure(config: pytest.Config) -> None:
    own = getattr(config, "_tracker_basetemp", None)
    if own is not None:
        shutil.rmtree(own, ignore_errors=True)


# Tests write clicks dated months back (time-zone and recurring-goal cases) into one shared
# database; the worker's retention sweep (default 90 days) would drop their partitions
# under another test's feet. Retention itself is tested with explicit values.
os.environ.setdefault("TRACKER_RETENTION_DAYS", "3650")


@pytest.fixture(scope="session")
def server_urls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerUrls]:
    base = Settings(
        data_dir=tmp_path_factory.mktemp("servers"),
        database_url=os.environ.get("TRACKER_DATABASE_URL"),
        redis_url=os.environ.get("TRACKER_REDIS_URL"),
    )
    with servers(base, owner=True) as urls:
        yield urls


@pytest.fixture(scope="session")
async def migrated(server_urls: ServerUrls) -> ServerUrls:
    await migrate_dsn(server_urls.database_url)
    return server_urls


@pytest.fixture
def settings(migrated: ServerUrls, tmp_path: Path) -> Settings:
    """Settings of one test: its own stream names, so tests never share a stream."""
    return Settings(
        database_url=migrated.database_url,
        redis_url=migrated.redis_url,
        data_dir=tmp_path,
        stream_prefix=f"t{uuid.uuid4().hex[:10]}",
        click_batch_ms=5,
        link_refresh_s=0.2,
        ingest_block_ms=50,
    )


@pytest.fixture(scope="session")
async def pool(migrated: ServerUrls) -> AsyncIterator[asyncpg.Pool]:
    p = await asyncpg.create_pool(migrated.database_url, min_size=1, max_size=5)
    yield p
    await p.close()


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[Redis]:
    assert settings.redis_url
    r = open_redis(settings, settings.redis_url)
    yield r
    await r.aclose()


@pytest.fixture
async def admin_key(pool: asyncpg.Pool) -> str:
    return (await create_key(pool, "admin", label="test")).token


@pytest.fixture
async def service(settings: Settings) -> AsyncIterator[str]:
    """The real app (redirect + API, no worker) served by uvicorn on a loopback port."""
    from service.compose import build_app

    port = free_port()
    settings.port = port
    assert settings.database_url and settings.redis_url
    app = build_app(settings, settings.database_url, settings.redis_url, with_worker=False)
    async with run_server(app, port) as url:
        yield url


@pytest.fixture
async def api(service: str, admin_key: str) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {admin_key}"}
    async with httpx.AsyncClient(base_url=service, headers=headers, timeout=10) as client:
        yield client


async def create_world(api: httpx.AsyncClient, landing: str | None = None) -> dict[str, Any]:
    """An advertiser, a partner, an offer and a link, made through the API."""
    adv = (await api.post("/api/v1/advertisers", json={"name": "Shop"})).json()
    aff = (await api.post("/api/v1/affiliates", json={"name": "Partner"})).json()
    offer_r = await api.post(
        "/api/v1/offers",
        json={
            "advertiser_id": adv["id"],
            "name": "Offer",
            "landing_url": landing
            or "https://shop.example/l?cid={click_id}&a={aff_id}&o={offer_id}&s1={sub1}&s2={sub2}",
            "default_payout": "2.50",
            "default_revenue": "4.00",
        },
    )
    assert offer_r.status_code == 201, offer_r.text
    offer = offer_r.json()
    link_r = await api.post(
        "/api/v1/links", json={"offer_id": offer["id"], "affiliate_id": aff["id"]}
    )
    assert link_r.status_code == 201, link_r.text
    return {"advertiser": adv, "affiliate": aff, "offer": offer, "link": link_r.json()}
