"""Click ids for the hot path: UUIDv7 text, made without a syscall per id.

Same layout as ``tracker.domain.ids.uuid7`` (48-bit Unix ms, 12-bit counter
within the millisecond, 62 random bits), but the random bits are sliced
from a 4 KiB block of ``os.urandom`` and the text is formatted directly:
about five times cheaper than ``str(uuid7())``. Ids stay unguessable
(kernel CSPRNG) and strictly increasing within the process.
"""

from __future__ import annotations

import os
import time

_POOL_BYTES = 4096
_MASK62 = 0x3FFF_FFFF_FFFF_FFFF


class ClickIds:
    __slots__ = ("_last_ms", "_pool", "_pos", "_seq")

    def __init__(self) -> None:
        self._last_ms = 0
        self._seq = 0
        self._pool = b""
        self._pos = _POOL_BYTES

    def new(self) -> tuple[str, int]:
        """(UUIDv7 text, its Unix milliseconds)."""
        ms = time.time_ns() // 1_000_000
        if ms > self._last_ms:
            self._last_ms, self._seq = ms, 0
        else:
            self._seq += 1
            if self._seq > 0xFFF:  # counter exhausted: borrow the next millisecond
                self._last_ms, self._seq = self._last_ms + 1, 0
            ms = self._last_ms
        pos = self._pos
        if pos >= _POOL_BYTES:
            self._pool, pos = os.urandom(_POOL_BYTES), 0
        self._pos = pos + 8
        rand = int.from_bytes(self._pool[pos : pos + 8], "big") & _MASK62
        h = "%032x" % ((ms << 80) | (0x7 << 76) | (self._seq << 64) | (0b10 << 62) | rand)
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}", ms
