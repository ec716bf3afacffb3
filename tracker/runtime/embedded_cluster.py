"""A real Redis Cluster on loopback from the bundled ``redis-server`` and ``redis-cli``.

For tests, benchmarks and local trials of the scale-out path: N masters,
each a separate process with its own folder, AOF on, created with
``redis-cli --cluster create``. A node can be stopped and started again
(same port, same folder, so the same node id and slots).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from tracker.runtime.embedded_redis import _ping, redis_server_binary


def cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free and valid too."""
    for _ in range(1000):
        with socket.socket() as a, socket.socket() as b:
            a.bind(("127.0.0.1", 0))
            port = int(a.getsockname()[1])
            if port + 10000 > 65535:
                continue
            try:
                b.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port pair for a cluster node")


class EmbeddedCluster:
    def __init__(self, root: Path, masters: int = 3, *, appendfsync: str = "everysec") -> None:
        """``appendfsync="always"``: a node killed with SIGKILL loses no acknowledged write
        (``everysec``, Redis' default, may lose the last second of them)."""
        self.root = root
        self.appendfsync = appendfsync
        self.ports = [cluster_port() for _ in range(masters)]
        self.procs: dict[int, subprocess.Popen[bytes]] = {}

    @property
    def url(self) -> str:
        """The form TRACKER_REDIS_URL takes for a cluster: seeds after ``redis+cluster://``."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in self.ports)

    def _dir(self, port: int) -> Path:
        d = self.root / f"node-{port}"
        d.mkdir(parents=True, exist_ok=True)
        return d

    def start_node(self, port: int) -> None:
        d = self._dir(port)
        args = [
            str(redis_server_binary()), "--bind", "127.0.0.1", "--port", str(port), "--dir", str(d),
            "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", "2000", "--cluster-require-full-coverage", "no",
            "--appendonly", "yes", "--appendfsync", self.appendfsync, "--save", "",
            "--logfile", str(d / "redis.log"), "--protected-mode", "yes",
        ]  # fmt: skip
        proc = self.procs[port] = subprocess.Popen(
            args, cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 30
        while not _ping(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"cluster node {port} did not start; see {d / 'redis.log'}")
            time.sleep(0.02)

    def stop_node(self, port: int, *, kill: bool = False) -> None:
        proc = self.procs.pop(port, None)
        if proc is None:
            return
        proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        proc.wait(timeout=30)

    def start(self) -> str:
        try:
            for port in self.ports:
                self.start_node(port)
        except Exception:
            self.stop()
            raise
        cli = redis_server_binary().parent / "redis-cli"
        if not os.access(cli, os.X_OK):
            cli.chmod(cli.stat().st_mode | 0o111)
        subprocess.run(
            [str(cli), "--cluster", "create", *[f"127.0.0.1:{p}" for p in self.ports], "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        self.wait_ok()
        return self.url

    def wait_ok(self, timeout_s: float = 30) -> None:
        cli = redis_server_binary().parent / "redis-cli"
        deadline = time.monotonic() + timeout_s
        waiting = list(self.procs)  # every running node, a restarted one too, must say ok
        while time.monotonic() < deadline:
            out = subprocess.run([str(cli), "-p", str(waiting[0]), "cluster", "info"],
                                 capture_output=True, text=True, timeout=10).stdout  # fmt: skip
            if "cluster_state:ok" in out:
                waiting.pop(0)
                if not waiting:
                    return
                continue
            time.sleep(0.1)
        raise RuntimeError("the cluster did not reach cluster_state:ok")

    def stop(self) -> None:
        for port in list(self.procs):
            self.stop_node(port)
