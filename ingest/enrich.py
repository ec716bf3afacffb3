"""Enrichment done by the worker, off the hot path: IP privacy, uniqueness."""

from __future__ import annotations

import hashlib
import ipaddress

from redis.asyncio import Redis


def truncate_ip(ip: str) -> str | None:
    """/24 for IPv4, /48 for IPv6: the full address is never stored."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    prefix = 24 if addr.version == 4 else 48
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False).network_address)


# SET NX decides the first click; a replay of that same click finds its own
# id stored and is still called unique, so a retried batch agrees with itself.
_UNIQUE_LUA = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then return 1 end
return 0
"""


class UniqueJudge:
    def __init__(self, redis: Redis, prefix: str, window_s: int) -> None:
        self._redis = redis
        self._prefix = prefix
        self._window = window_s
        self._script = redis.register_script(_UNIQUE_LUA)

    def key(self, offer_id: int, ip: str, ua: str) -> str:
        visitor = hashlib.blake2b(f"{ip}\x00{ua}".encode(), digest_size=12).hexdigest()
        return f"{self._prefix}:uniq:{offer_id}:{visitor}"

    async def judge(self, items: list[tuple[str, int, str, str]]) -> list[bool]:
        """items: (click_id, offer_id, ip, ua) → unique or not, atomically per visitor."""
        if not items:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for click_id, offer_id, ip, ua in items:
                await self._script(
                    keys=[self.key(offer_id, ip, ua)], args=[click_id, self._window], client=pipe
                )
            results = await pipe.execute()
        return [bool(r) for r in results]
