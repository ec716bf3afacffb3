"""Unique click: the first click of a visitor (IP + user agent) on an offer in a window.

Decided in Redis by ``SET NX`` so that two workers never both call it
unique. The value is the click id: a replay of that same click finds its
own id and is still called unique, so a retried batch agrees with itself.
Keys carry one of 16 hash tags (from the visitor hash), and a batch is
judged with one script call per tag: cluster-safe, and a few round trips
per batch instead of one command per click.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import Any

from redis.asyncio import Redis

TAGS = 16

_JUDGE_LUA = """
local out = {}
for i = 1, #KEYS do
  if redis.call('SET', KEYS[i], ARGV[i + 1], 'NX', 'EX', ARGV[1]) then
    out[i] = 1
  elseif redis.call('GET', KEYS[i]) == ARGV[i + 1] then
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
"""


class UniqueJudge:
    def __init__(self, redis: Redis, prefix: str, window_s: int) -> None:
        self._redis = redis
        self._prefix = prefix
        self._window = window_s
        self._script = redis.register_script(_JUDGE_LUA)

    def key(self, offer_id: int, ip: str, ua: str) -> str:
        digest = hashlib.blake2b(f"{ip}\x00{ua}".encode(), digest_size=12).digest()
        return f"{self._prefix}:uniq:{{u{digest[0] % TAGS}}}:{offer_id}:{digest.hex()}"

    async def judge(self, items: list[tuple[str, int, str, str]]) -> list[bool]:
        """items: (click_id, offer_id, ip, ua) → unique or not, in order."""
        if not items:
            return []
        groups: dict[str, list[int]] = defaultdict(list)
        keys: list[str] = []
        for i, (_, offer_id, ip, ua) in enumerate(items):
            key = self.key(offer_id, ip, ua)
            keys.append(key)
            groups[key[key.index("{") : key.index("}") + 1]].append(i)
        out = [False] * len(items)
        async with self._redis.pipeline(transaction=False) as pipe:
            order = list(groups.values())
            for idx in order:
                await self._script(
                    keys=[keys[i] for i in idx],
                    args=[self._window, *(items[i][0] for i in idx)],
                    client=pipe,
                )
            results: list[Any] = await pipe.execute()
        for idx, verdicts in zip(order, results, strict=True):
            for i, v in zip(idx, verdicts, strict=True):
                out[i] = bool(v)
        return out
