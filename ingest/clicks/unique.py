"""Unique click: the first click of a visitor (IP + user agent) on an offer in a window.

Decided in Redis by ``SET NX`` so that two workers never both call it
unique. The value is the click id: a replay of that same click finds its
own id and is still called unique, so a retried batch agrees with itself.

Keys carry one of 16 hash tags (from the visitor hash) and a batch is
judged with one script call per tag, its items packed into one argument:
a few round trips and almost no command encoding per batch instead of one
command per click. Every key a call touches shares the tag it is routed
by (``KEYS[1]``), so on Redis Cluster they all live in that one slot.
"""

from __future__ import annotations

import asyncio
from hashlib import blake2b
from typing import Any

from redis.asyncio import Redis, RedisCluster

from ingest.clicks.parse import Wire
from tracker.redis_keys import RedisKeys

TAGS = 16
_LOW_NIBBLE = {c: int(c, 16) % TAGS for c in "0123456789abcdef"}

# KEYS[1]: key prefix with the hash tag; ARGV: window, "suffix id\n" records.
_JUDGE_LUA = """
local out = {}
local i = 0
for suffix, id in string.gmatch(ARGV[2], "([^ \\n]+) ([^\\n]+)") do
  i = i + 1
  local key = KEYS[1] .. suffix
  if redis.call('SET', key, id, 'NX', 'EX', ARGV[1]) then
    out[i] = '1'
  elseif redis.call('GET', key) == id then
    out[i] = '1'
  else
    out[i] = '0'
  end
end
return table.concat(out)
"""


class UniqueJudge:
    def __init__(self, redis: Redis, keys: RedisKeys, window_s: int) -> None:
        self._redis = redis
        self._prefixes = [keys.unique_prefix(t) for t in range(TAGS)]
        self._window = window_s
        self._script = redis.register_script(_JUDGE_LUA)
        self._cluster = isinstance(redis, RedisCluster)

    def key(self, offer_id: int, ip: str, ua: str) -> str:
        digest = blake2b(f"{ip}\x00{ua}".encode(), digest_size=12).digest()
        return f"{self._prefixes[digest[0] % TAGS]}{offer_id}:{digest.hex()}"

    async def judge(self, clicks: list[Wire]) -> list[bool]:
        """Clicks to judge (not heads, not impressions) → unique or not, in order."""
        if not clicks:
            return []
        records: list[list[str]] = [[] for _ in range(TAGS)]
        add = [r.append for r in records]
        tags = []
        for c in clicks:  # one pass, no call of ours per click: the key is key()'s
            digest = blake2b(f"{c.ip}\x00{c.ua}".encode(), digest_size=12).hexdigest()
            tag = _LOW_NIBBLE[digest[1]]  # digest[0] % TAGS
            tags.append(tag)
            add[tag](f"{c.offer_id}:{digest} {c.click_id}")
        used = [t for t in range(TAGS) if records[t]]
        results: list[Any]
        if self._cluster:  # scripts cannot be pipelined on Redis Cluster: one call per tag
            results = await asyncio.gather(*(
                self._script(keys=[self._prefixes[t]], args=[self._window, "\n".join(records[t])])
                for t in used))  # fmt: skip
        else:
            async with self._redis.pipeline(transaction=False) as pipe:
                for t in used:
                    await self._script(keys=[self._prefixes[t]],
                                       args=[self._window, "\n".join(records[t])], client=pipe)  # fmt: skip
                results = await pipe.execute()
        replies: list[Any] = [None] * TAGS
        for t, verdicts in zip(used, results, strict=True):
            if len(verdicts) != len(records[t]):
                raise RuntimeError(f"unique judge: {len(verdicts)} verdicts for {len(records[t])}")
            replies[t] = iter(verdicts)
        return [next(replies[t]) == 49 for t in tags]  # b"1"
