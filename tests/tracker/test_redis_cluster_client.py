"""TRACKER_REDIS_URL may name a Redis Cluster: a real 3-master cluster on loopback."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.crc import key_slot as redis_key_slot

from tracker import redis_keys
from tracker.domain.shards import by_slot, hash_tag, key_slot
from tracker.redis_client import cluster_seeds, open_redis
from tracker.runtime.embedded_cluster import EmbeddedCluster
from tracker.settings import Settings


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedCluster]:
    c = EmbeddedCluster(Path(tmp_path_factory.mktemp("cluster")), masters=3)
    c.start()
    yield c
    c.stop()


def test_cluster_seed_urls() -> None:
    assert cluster_seeds("redis+cluster://10.0.0.1:7000,[::1]:7001") == [
        ("10.0.0.1", 7000),
        ("::1", 7001),
    ]
    with pytest.raises(ValueError, match="bad cluster seed"):
        cluster_seeds("redis+cluster://nohost")
    assert Settings(redis_url="redis+cluster://127.0.0.1:7000").redis_url


async def test_six_shards_two_per_master(cluster: EmbeddedCluster) -> None:
    settings = Settings(stream_shards=6, redis_url=cluster.url)
    r = open_redis(settings, cluster.url)
    try:
        for stream in redis_keys.of(settings).click_streams():
            await r.xadd(stream, {"v": "1", "clicks": b"[]"})
            assert await r.xlen(stream) >= 1
        nodes = Counter(
            r.get_node_from_key(s).port for s in redis_keys.of(settings).click_streams()
        )
        assert sorted(nodes.values()) == [2, 2, 2] and set(nodes) == set(cluster.ports)
    finally:
        await r.aclose()


def test_keys_grouped_by_slot_as_redis_cluster_hashes_them() -> None:
    settings = Settings(stream_shards=6)
    keys = redis_keys.of(settings).click_streams() + redis_keys.of(settings).conversion_streams()
    for k in [*keys, "plain", "a{}b", "{x}{y}", "{only-open"]:
        assert key_slot(k) == redis_key_slot(k.encode())
    assert hash_tag("a{}b") == "a{}b" and hash_tag("{x}{y}") == "x"
    groups = by_slot(keys)
    # click shard i and conversion shard i share a tag: one read covers both
    assert groups == [[c, v] for c, v in zip(redis_keys.of(settings).click_streams(),
                                             redis_keys.of(settings).conversion_streams(), strict=True)]  # fmt: skip
