"""The worker on a real 3-master Redis Cluster: six shards, reads and acknowledgements
per slot (no CROSSSLOT), dead letters in each shard's own stream, nothing left pending."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from ingest import dead_letter, health, streams
from ingest.errors import TRANSIENT
from ingest.reads import ShardReader
from ingest.worker import Worker
from schemas.events import WIRE_VERSION
from tests.ingest.helpers import click, push, raw_counts, rollup, setup_offer
from tracker import redis_keys
from tracker.redis_client import open_redis
from tracker.runtime.embedded_cluster import EmbeddedCluster
from tracker.runtime.servers import ServerUrls
from tracker.settings import Settings


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedCluster]:
    c = EmbeddedCluster(Path(tmp_path_factory.mktemp("ingest-cluster")), appendfsync="always")
    c.start()
    yield c
    c.stop()


@pytest.fixture
def csettings(settings: Settings, cluster: EmbeddedCluster) -> Settings:
    return settings.model_copy(update={"redis_url": cluster.url, "stream_shards": 6})


@pytest.fixture
async def credis(csettings: Settings) -> AsyncIterator[Any]:
    assert csettings.redis_url
    r = open_redis(csettings, csettings.redis_url, block_ms=csettings.ingest_block_ms)
    yield r
    await r.aclose()


async def test_six_shards_on_three_masters(
    csettings: Settings, credis: Any, pool: asyncpg.Pool, migrated: ServerUrls
) -> None:
    offer, aff = await setup_offer(pool)
    shards = redis_keys.of(csettings).click_streams()
    clicks = [click(offer, aff, i) for i in range(1_200)]
    for n, stream in enumerate(shards):
        await push(credis, stream, clicks[n * 200 : (n + 1) * 200], per_entry=50)
    assert len({credis.get_node_from_key(s).port for s in shards}) == 3
    for stream in shards[3], shards[5]:  # one unparseable entry on two shards
        await credis.xadd(stream, {"v": WIRE_VERSION, "clicks": b"{broken"})

    w1 = Worker(csettings, pool, credis, consumer="c1")
    w2 = Worker(csettings, pool, credis, consumer="c2")
    await w1.run(burst=True)
    await w2.run(burst=True)  # nothing left for the second: still no error

    got = await pool.fetchval("SELECT count(*) FROM clicks WHERE affiliate_id = $1", aff)
    assert got == 1_200
    assert await rollup(pool, aff) == await raw_counts(pool, aff)
    letters = await dead_letter.read_all(credis, csettings)
    assert sorted(k for k, _, _ in letters) == sorted(
        redis_keys.of(csettings).dead_letter_of(s) for s in (shards[3], shards[5])
    )
    for stream in (
        redis_keys.of(csettings).click_streams() + redis_keys.of(csettings).conversion_streams()
    ):
        st = await streams.state(credis, stream, csettings.consumer_group)
        assert st.pending == 0 and st.lag == 0, stream


# redis-py drops the ClusterNode objects of a refreshed topology without closing their
# in-use connections, and warns from __del__ (redis/redis-py#3572, #4053): not ours.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_shards_of_a_node_away_are_skipped_the_rest_read(
    csettings: Settings, cluster: EmbeddedCluster
) -> None:
    assert csettings.redis_url
    credis = open_redis(csettings, csettings.redis_url, block_ms=50)
    try:
        await _node_away(csettings, credis, cluster)
    finally:
        await credis.aclose()
        del credis
        await asyncio.sleep(0.2)  # redis-py's own disconnect tasks of dropped nodes
        gc.collect()  # the warnings above fire here, under this test's filter


async def _node_away(csettings: Settings, credis: Any, cluster: EmbeddedCluster) -> None:
    shards = redis_keys.of(csettings).click_streams()
    group = csettings.consumer_group
    for stream in shards:
        await streams.ensure_group(credis, stream, group)
        await credis.xadd(stream, {"v": WIRE_VERSION, "clicks": b"[]"})
    victim = cluster.ports[2]
    away = {s for s in shards if credis.get_node_from_key(s).port == victim}
    assert len(away) == 2
    reader = ShardReader(credis, group, "r", shards, count=10, block_ms=50)
    new = dict.fromkeys(shards, ">")
    cluster.stop_node(victim, kill=True)
    try:
        got = {k.decode() for k, es in await reader.read(new) if es}
        assert got == set(shards) - away  # no error: the other four shards were read
        with pytest.raises(TRANSIENT):  # only the missing node's shards asked: the error shows
            await reader.read({s: ">" for s in away}, block=False)
    finally:
        cluster.start_node(victim)
        cluster.wait_ok()
    got = set()
    for _ in range(300):  # bounded (30 s): the node rejoins within a few seconds
        try:
            got |= {k.decode() for k, es in await reader.read(new, block=False) if es}
        except TRANSIENT:
            pass
        if got == away:
            break
        await asyncio.sleep(0.1)  # the shards of the node are retried after their backoff
    assert got == away  # back by itself: the two shards are read, nothing twice


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # as above
async def test_health_check_with_another_node_away(
    csettings: Settings, cluster: EmbeddedCluster
) -> None:
    assert csettings.redis_url
    r = open_redis(csettings, csettings.redis_url)
    try:
        keys = redis_keys.of(csettings)
        await health.beat(r, keys, "w1", ttl_s=60, rows=5)
        home = r.get_node_from_key(keys.health("w1")).port
        other = next(p for p in cluster.ports if p != home)
        cluster.stop_node(other, kill=True)
        try:
            ok, lines = await health.check(r, keys, max_age_s=60)
            assert ok and len(lines) == 1 and lines[0].startswith("w1:")
            ok, _ = await health.check(r, keys, max_age_s=60, consumer="nobody")
            assert not ok
        finally:
            cluster.start_node(other)
            cluster.wait_ok()
    finally:
        await r.aclose()
        del r
        await asyncio.sleep(0.2)
        gc.collect()
