"""Stream shard hash tags: Redis Cluster's own slot function, even spread."""

from __future__ import annotations

from redis.crc import key_slot

from tracker import redis_keys
from tracker.domain.shards import SLOTS, shard_tag, slot
from tracker.settings import Settings


def test_slot_matches_redis_py() -> None:
    for key in ("a", "trk:clicks:{0-1}", "{user1000}.following", "123456789", ""):
        tag = key[key.index("{") + 1 : key.index("}")] if "{" in key else key
        assert slot(tag) == key_slot(key.encode())
    assert slot("123456789") == 0x31C3 % SLOTS  # the CRC16-XMODEM check value


def test_shards_spread_evenly_over_equal_slot_ranges() -> None:
    for n, masters in ((6, 3), (6, 2), (4, 4), (12, 3), (1, 1)):
        per_node = [0] * masters
        for i in range(n):
            per_node[slot(shard_tag(i, n)) * masters // SLOTS] += 1
        assert per_node == [n // masters] * masters, (n, masters, per_node)


def test_stream_keys_carry_distinct_tags() -> None:
    keys = redis_keys.of(Settings(stream_shards=6)).click_streams()
    assert len(set(keys)) == 6 and all(
        k.startswith("trk:clicks:{") and k.endswith("}") for k in keys
    )
    assert redis_keys.of(Settings()).click_streams() == [f"trk:clicks:{{{shard_tag(0, 1)}}}"]
