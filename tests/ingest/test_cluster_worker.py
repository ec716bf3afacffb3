"""The worker on a real 3-master Redis Cluster: six shards, reads and acknowledgements
per slot (no CROSSSLOT), dead letters in each shard's own stream, nothing left pending."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from ingest import dead_letter, streams
from ingest.worker import Worker
from schemas.events import WIRE_VERSION
from tests.ingest.helpers import click, push, raw_counts, rollup, setup_offer
from tracker.redis_client import open_redis
from tracker.runtime.embedded_cluster import EmbeddedCluster
from tracker.runtime.servers import ServerUrls
from tracker.settings import Settings


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedCluster]:
    c = EmbeddedCluster(Path(tmp_path_factory.mktemp("ingest-cluster")), masters=3)
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
    shards = csettings.click_streams()
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
    base = csettings.dead_letter_stream()
    assert sorted(k for k, _, _ in letters) == sorted(
        dead_letter.key_for(base, s) for s in (shards[3], shards[5])
    )
    for stream in csettings.click_streams() + csettings.conversion_streams():
        st = await streams.state(credis, stream, csettings.consumer_group)
        assert st.pending == 0 and st.lag == 0, stream
