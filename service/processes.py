"""Several processes of one command (docs/adr/0101).

``shared_metrics`` gives a run with several processes a fresh folder for
prometheus-client's multiprocess files, set in the environment before anything
imports prometheus_client here or in a child, and removed when the run ends.

``run_ingest_workers`` is ``tracker ingest --workers N``: N ``tracker ingest``
processes in one consumer group. It restarts one that dies (kill -9, a crash) after
a short pause, growing while it keeps dying at once; the dead one's pending entries
are claimed by the others' sweep (``TRACKER_INGEST_CLAIM_IDLE_MS``). SIGTERM or
SIGINT is passed to every worker, each commits its batch in hand within
``TRACKER_INGEST_GRACE_S``, and one still running well past that is killed.
``--metrics-port`` serves the sum over the workers.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from tracker.settings import Settings

log = logging.getLogger("tracker")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_POLL_S = 0.2
_QUICK_DEATH_S = 10.0  # a worker dying sooner than this after its start backs off more
_MAX_PAUSE_S = 30.0


@contextlib.contextmanager
def shared_metrics(workers: int) -> Iterator[str | None]:
    if workers <= 1:
        yield None
        return
    path = tempfile.mkdtemp(prefix="tracker-metrics-")
    previous = os.environ.get(MULTIPROC_ENV)
    os.environ[MULTIPROC_ENV] = path
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        if previous is None:
            os.environ.pop(MULTIPROC_ENV, None)
        else:
            os.environ[MULTIPROC_ENV] = previous


@dataclass
class _Slot:
    proc: subprocess.Popen[bytes]
    started: float = field(default_factory=time.monotonic)
    pause_s: float = 0.5
    restart_at: float | None = None


def run_ingest_workers(settings: Settings, database_url: str, redis_url: str, *, workers: int,
                       burst: bool, metrics_port: int | None, metrics_host: str) -> int:  # fmt: skip
    from tracker import exposition  # after shared_metrics set the folder

    path = os.environ.get(MULTIPROC_ENV)
    if metrics_port and path:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr=metrics_host,
                          registry=exposition.shared_registry(path))  # fmt: skip
    env = dict(os.environ, TRACKER_DATABASE_URL=database_url, TRACKER_REDIS_URL=redis_url)
    cmd = [sys.executable, "-m", "service.cli", "ingest", "--workers", "1"]
    if burst:
        cmd.append("--burst")
    stopping = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stopping.set()
        for slot in slots:
            with contextlib.suppress(ProcessLookupError):
                slot.proc.send_signal(signal.SIGTERM)

    slots = [_Slot(subprocess.Popen(cmd, env=env)) for _ in range(workers)]
    log.info("ingest: %d workers started (pids %s)", workers, [s.proc.pid for s in slots])
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stopping.is_set():
            if burst and all(s.proc.poll() is not None for s in slots):
                break
            if not burst:
                _keep_alive(slots, cmd, env, path)
            stopping.wait(_POLL_S)
        return _wait_all(slots, settings.ingest_grace_s + 15)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _keep_alive(slots: list[_Slot], cmd: list[str], env: dict[str, str],
                path: str | None) -> None:  # fmt: skip
    now = time.monotonic()
    for slot in slots:
        code = slot.proc.poll()
        if code is None:
            continue
        if slot.restart_at is None:
            quick = now - slot.started < _QUICK_DEATH_S
            slot.pause_s = min(slot.pause_s * 2, _MAX_PAUSE_S) if quick else 0.5
            slot.restart_at = now + slot.pause_s
            log.warning("ingest: worker %d exited with %s; restarting in %.1f s",
                        slot.proc.pid, code, slot.pause_s)  # fmt: skip
            if path:  # its share of the live gauges goes with it
                from prometheus_client import multiprocess

                multiprocess.mark_process_dead(slot.proc.pid, path)  # type: ignore[no-untyped-call]
        elif now >= slot.restart_at:
            slot.proc = subprocess.Popen(cmd, env=env)
            slot.started, slot.restart_at = now, None
            log.info("ingest: worker restarted as %d", slot.proc.pid)


def _wait_all(slots: list[_Slot], deadline_s: float) -> int:
    """Each worker's exit code once it is gone (killed past the deadline): 0 when all
    ended well."""
    end = time.monotonic() + deadline_s
    codes = []
    for slot in slots:
        if slot.restart_at is not None:  # died before the stop; said when it did
            continue
        try:
            codes.append(slot.proc.wait(max(0.0, end - time.monotonic())))
        except subprocess.TimeoutExpired:
            log.error("ingest: worker %d still running past the grace; killed", slot.proc.pid)
            slot.proc.kill()
            codes.append(slot.proc.wait())
    # Ended by the signal itself: it came before the worker set its handlers (still
    # starting), so it held no batch.
    bad = [c for c in codes if c not in (0, -signal.SIGTERM, -signal.SIGINT)]
    if bad:
        log.error("ingest: workers exited with %s", codes)
    return 1 if bad else 0
