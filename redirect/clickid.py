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
_POOL_HEX = 2 * _POOL_BYTES


_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}


def _head(ms: int) -> str:
    """The id's text up to the version digit: ``tttttttt-tttt-7``."""
    h = f"{ms:012x}"
    return f"{h[:8]}-{h[8:]}-7"


class ClickIds:
    __slots__ = ("_head", "_last_ms", "_pool", "_pos", "_seq")

    def __init__(self) -> None:
        self._last_ms = 0
        self._head = ""
        self._seq = 0
        self._pool = ""
        self._pos = _POOL_HEX

    def new(self) -> tuple[str, int]:
        """(UUIDv7 text, its Unix milliseconds)."""
        ms = time.time_ns() // 1_000_000
        if ms > self._last_ms:
            self._last_ms, self._seq = ms, 0
            self._head = _head(ms)
        else:
            self._seq += 1
            if self._seq > 0xFFF:  # counter exhausted: borrow the next millisecond
                self._last_ms, self._seq = self._last_ms + 1, 0
                self._head = _head(self._last_ms)
            ms = self._last_ms
        pos = self._pos
        if pos >= _POOL_HEX:
            self._pool, pos = os.urandom(_POOL_BYTES).hex(), 0
        self._pos = pos + 16
        pool = self._pool  # 64 random bits as hex from pos; 62 are kept
        return (
            f"{self._head}{self._seq:03x}-{_VARIANT[pool[pos]]}{pool[pos + 1 : pos + 4]}-{pool[pos + 4 : pos + 16]}",
            ms,
        )
