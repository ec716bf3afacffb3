"""The click spool: bounded, durable lines, torn tails skipped, orphans adopted once."""

from __future__ import annotations

import os
from pathlib import Path

import orjson

from redirect.spool import Spool


def _drain(spool: Spool) -> list[bytes]:
    out = []
    while (seg := spool.next_segment()) is not None:
        lines = spool.read_lines(seg)
        if not lines:
            spool.done(seg)
            continue
        for count, payload, end in lines:
            if count:
                out.append(payload)
            seg.offset = end
    return out


def test_append_replay_and_delete(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 20, segment_bytes=200)
    spool.open()
    payloads = [orjson.dumps([{"click_id": str(i), "n": "x" * 50}]) for i in range(10)]
    for p in payloads:
        assert spool.append(1, p)
    assert spool.bytes > 0 and len(list(spool.dir.glob("seg-*"))) > 1  # rotated
    assert _drain(spool) == payloads
    assert spool.bytes == 0 and not list(spool.dir.glob("seg-*")) and not spool.has_pending
    spool.close()
    assert not spool.dir.exists()


def test_full_spool_refuses_and_writes_nothing(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 20)
    spool.open()
    big = b"[" + b"1," * 200_000 + b"1]"
    assert spool.append(100, big) and spool.append(100, big)
    size = spool.bytes
    assert not spool.append(100, big) and spool.bytes == size
    spool.close()


def test_replay_resumes_where_it_stopped(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 20)
    spool.open()
    for i in range(100):
        spool.append(1, b'[{"i":%d}]' % i)
    seg = spool.next_segment()
    assert seg is not None
    first = spool.read_lines(seg, max_lines=30)
    seg.offset = first[-1][2]  # 30 lines reached Redis, then it failed
    rest = _drain(spool)
    assert len(rest) == 70 and rest[0] == b'[{"i":30}]'
    spool.close()


def test_torn_tail_is_skipped_and_dead_process_folder_is_adopted(tmp_path: Path) -> None:
    dead = Spool(tmp_path, max_bytes=1 << 20)
    dead.open()
    dead.append(2, b'[{"a":1},{"a":2}]')
    assert dead._fd is not None
    os.write(dead._fd, b'3 [{"torn":')  # the process died in the middle of a write
    os.close(dead._fd)
    assert dead._lock_fd is not None
    os.close(dead._lock_fd)  # its lock goes with it

    alive = Spool(tmp_path, max_bytes=1 << 20)
    alive.open()
    assert alive.bytes > 0
    assert _drain(alive) == [b'[{"a":1},{"a":2}]']
    assert not dead.dir.exists()  # adopted, replayed, removed
    other = Spool(tmp_path, max_bytes=1 << 20)
    other.open()
    assert other.adopt_orphans() == 0 and _drain(other) == []
    other.close()
    alive.close()


def test_a_live_process_folder_is_left_alone(tmp_path: Path) -> None:
    a = Spool(tmp_path, max_bytes=1 << 20)
    a.open()
    a.append(1, b"[1]")
    b = Spool(tmp_path, max_bytes=1 << 20)
    b.open()
    assert b.adopt_orphans() == 0 and b.bytes == 0
    b.close()
    assert _drain(a) == [b"[1]"]
    a.close()
