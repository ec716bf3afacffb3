"""Append-only local spool for click batches while Redis is away.

Each process writes to a folder of its own, ``<spool>/<pid>-<random>/``,
held under an exclusive ``flock`` for the process's life. A batch is one
line, ``<count> <packed entry JSON>\\n``, appended to the current segment
and fsynced before ``append`` returns (see docs/adr/0011-click-spool.md).
Segments rotate at ``segment_bytes``; the total is bounded by ``max_bytes``,
past which ``append`` refuses and the caller counts the clicks as dropped.

Replay reads closed segments line by line; a segment is deleted once every
line of it has reached Redis, and the replayer remembers how far it got, so
a segment is replayed again only after a crash in the middle of it (ingest
deduplicates by click id). Folders of dead processes (their lock is free)
are adopted and replayed by whichever process takes the lock first.

All methods block (file I/O): the sink runs them on its own thread.
"""

from __future__ import annotations

import fcntl
import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("tracker.redirect")

_LOCK = "lock"
_SEGMENT_PREFIX = "seg-"


@dataclass
class Segment:
    path: Path
    offset: int = 0  # bytes already replayed
    lock_fd: int | None = None  # held when the segment belongs to an adopted folder


def _try_lock(path: Path) -> int | None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


class Spool:
    def __init__(self, root: Path, max_bytes: int, segment_bytes: int = 16 << 20) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.dir = root / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._lock_fd: int | None = None
        self._fd: int | None = None
        self._seq = 0
        self._current_size = 0
        self.bytes = 0  # on disk, own folder and adopted ones, not yet replayed
        self._pending: list[Segment] = []  # closed segments waiting for replay
        self._adopted: set[Path] = set()

    # -- writing ------------------------------------------------------------------
    def open(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock_fd = _try_lock(self.dir / _LOCK)
        self.adopt_orphans()

    def append(self, count: int, payload: bytes) -> bool:
        """Write one batch durably; False (nothing written) when the spool is full."""
        line = b"%d %b\n" % (count, payload)
        if self.bytes + len(line) > self.max_bytes:
            return False
        if self._fd is None or self._current_size + len(line) > self.segment_bytes:
            self._rotate()
        assert self._fd is not None
        written = 0
        while written < len(line):
            written += os.write(self._fd, line[written:])
        os.fsync(self._fd)
        self._current_size += len(line)
        self.bytes += len(line)
        return True

    def _rotate(self) -> None:
        self.seal()
        self._seq += 1
        path = self.dir / f"{_SEGMENT_PREFIX}{self._seq:08d}"
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._current_size = 0

    def seal(self) -> None:
        """Close the current segment: it becomes replayable."""
        if self._fd is None:
            return
        os.close(self._fd)
        self._fd = None
        self._pending.append(Segment(self.dir / f"{_SEGMENT_PREFIX}{self._seq:08d}"))
        self._dir_fsync(self.dir)

    @staticmethod
    def _dir_fsync(path: Path) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # -- replay -----------------------------------------------------------------------
    def adopt_orphans(self) -> int:
        """Take over folders whose process is gone; return how many were adopted."""
        adopted = 0
        if not self.root.is_dir():
            return 0
        for folder in sorted(self.root.iterdir()):
            if folder == self.dir or folder in self._adopted or not folder.is_dir():
                continue
            fd = _try_lock(folder / _LOCK)
            if fd is None:
                continue  # a live process owns it
            segments = sorted(folder.glob(f"{_SEGMENT_PREFIX}*"))
            if not segments:
                os.close(fd)
                self._remove_folder(folder)
                continue
            self._adopted.add(folder)
            for i, path in enumerate(segments):
                self.bytes += path.stat().st_size
                # The last segment carries the folder's lock: released when it is done.
                self._pending.append(Segment(path, lock_fd=fd if i == len(segments) - 1 else None))
            adopted += 1
            log.info("click spool: adopted %d segments of %s", len(segments), folder)
        return adopted

    @property
    def has_pending(self) -> bool:
        return bool(self._pending) or self._fd is not None

    def next_segment(self) -> Segment | None:
        if not self._pending:
            self.seal()
        return self._pending[0] if self._pending else None

    def read_lines(self, seg: Segment, max_lines: int = 64) -> list[tuple[int, bytes, int]]:
        """Up to ``max_lines`` complete lines after ``seg.offset``: (count, payload, end offset).

        A torn last line (the process died while writing it) is skipped.
        """
        out: list[tuple[int, bytes, int]] = []
        with seg.path.open("rb") as f:
            f.seek(seg.offset)
            pos = seg.offset
            for raw in f:
                if len(out) >= max_lines:
                    break
                pos += len(raw)
                if not raw.endswith(b"\n"):
                    log.error("click spool: torn line at end of %s skipped", seg.path)
                    out.append((0, b"", pos))
                    break
                head, _, payload = raw[:-1].partition(b" ")
                try:
                    count = int(head)
                except ValueError:
                    log.error("click spool: bad line in %s skipped", seg.path)
                    out.append((0, b"", pos))
                    continue
                out.append((count, payload, pos))
        return out

    def done(self, seg: Segment) -> None:
        """Every line of the segment reached Redis: delete it."""
        size = seg.path.stat().st_size if seg.path.exists() else 0
        seg.path.unlink(missing_ok=True)
        self.bytes = max(0, self.bytes - size)
        self._pending.remove(seg)
        if seg.lock_fd is not None:
            os.close(seg.lock_fd)
            self._remove_folder(seg.path.parent)

    def _remove_folder(self, folder: Path) -> None:
        for leftover in folder.iterdir():
            leftover.unlink(missing_ok=True)
        folder.rmdir()
        self._adopted.discard(folder)

    def close(self) -> None:
        """Seal the current segment; an empty own folder is removed."""
        self.seal()
        if not any(p.name.startswith(_SEGMENT_PREFIX) for p in self.dir.iterdir()):
            self._remove_folder(self.dir)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
