"""Hash tags for stream shards that spread evenly over a Redis Cluster.

Redis Cluster places a key by CRC16 of its hash tag (the text in braces)
modulo 16384, and ``redis-cli --cluster create`` gives each of M masters an
equal run of slots. Shard ``i`` of ``n`` gets the first tag ``i-k`` whose
slot falls in the i-th n-th of the slot space, so n shards land evenly on
any number of masters that divides n (6 shards: 2 per node on 3 masters).
"""

from __future__ import annotations

from functools import cache

SLOTS = 16384


def _crc16_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
        table.append(crc & 0xFFFF)
    return table


_TABLE = _crc16_table()


def crc16(data: bytes) -> int:
    """CRC16-CCITT (XMODEM), the function Redis Cluster uses."""
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ _TABLE[((crc >> 8) ^ byte) & 0xFF]
    return crc


def slot(tag: str) -> int:
    return crc16(tag.encode()) % SLOTS


@cache
def shard_tag(i: int, n: int) -> str:
    lo, hi = i * SLOTS // n, (i + 1) * SLOTS // n
    for k in range(1_000_000):
        tag = f"{i}-{k}"
        if lo <= slot(tag) < hi:
            return tag
    raise RuntimeError(f"no tag found for shard {i} of {n}")  # unreachable for n <= 16384


def hash_tag(key: str) -> str:
    """The part of a key Redis Cluster hashes: the text between the first ``{`` and the
    next ``}`` when it is not empty, else the whole key."""
    start = key.find("{")
    if start >= 0:
        end = key.find("}", start + 1)
        if end > start + 1:
            return key[start + 1 : end]
    return key


def key_slot(key: str) -> int:
    return slot(hash_tag(key))


def by_slot(keys: list[str]) -> list[list[str]]:
    """Keys grouped by slot, in first-seen order: one multi-key command per group is
    valid on Redis Cluster (several slots in one command fail with CROSSSLOT)."""
    groups: dict[int, list[str]] = {}
    for k in keys:
        groups.setdefault(key_slot(k), []).append(k)
    return list(groups.values())
