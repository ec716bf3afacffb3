"""`tracker up` on the embedded default, as a newcomer runs it: start, demo, click,
report, stop with SIGTERM (servers stopped), start again (data kept), stop with Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

from tests.servers import free_port


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    env["TRACKER_DATA_DIR"] = str(data_dir)
    return env


def _tracker(
    *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "service.cli", *args], env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)  # fmt: skip


def _start(port: int, env: dict[str, str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-m", "service.cli", "up", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("tracker up did not become ready")


def _server_pids(data_dir: Path) -> list[int]:
    """PostgreSQL (its command line names the data folder) and Redis (its pid file)."""
    pids = [
        p.pid
        for p in psutil.process_iter(["cmdline"])
        if any(str(data_dir) in part for part in p.info["cmdline"] or [])
        and "service.cli" not in " ".join(p.info["cmdline"] or [])
    ]
    pid_file = data_dir / "redis" / "redis.pid"
    if pid_file.exists() and psutil.pid_exists(int(pid_file.read_text())):
        pids.append(int(pid_file.read_text()))
    return pids


def _stop(proc: subprocess.Popen[str], sig: int) -> str:
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    return out


def test_up_demo_click_report_stop_and_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = _env(data)
    port = free_port()
    proc = _start(port, env)
    try:
        base = f"http://127.0.0.1:{port}"
        demo = _tracker("demo", "--base-url", base, env=env)
        assert demo.returncode == 0, demo.stderr
        url = re.search(r"(http://\S+/c/\S+)", demo.stdout)
        key = re.search(r"(trk_\S+)", demo.stdout)
        assert url and key, demo.stdout
        assert "curl -s '" + base + "/postback?" in demo.stdout
        r = httpx.get(url.group(1), follow_redirects=False, headers={"User-Agent": "Mozilla/5.0"})
        assert r.status_code == 302 and r.headers["location"].startswith("https://shop.example/")
        click_id = re.search(r"click_id=([0-9a-f-]{36})", r.headers["location"]).group(1)  # type: ignore[union-attr]
        auth = {"Authorization": f"Bearer {key.group(1)}"}
        deadline = time.monotonic() + 2.0  # the worker inside `up` makes it queryable within 2 s
        while True:
            c = httpx.get(f"{base}/api/v1/clicks/{click_id}", headers=auth)
            if c.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert c.status_code == 200, c.text
        report = httpx.get(
            f"{base}/api/v1/reports", params={"group_by": "affiliate"}, headers=auth
        ).json()
        assert report["totals"]["gross_clicks"] == 1

        # A second command beside `up` reuses its servers and leaves them running.
        k = _tracker("keys", "create", "--role", "admin", env=env)
        assert k.returncode == 0 and k.stdout.startswith("trk_"), k.stderr
        assert httpx.get(f"{base}/readyz").status_code == 200
        assert _server_pids(data)
    finally:
        if proc.poll() is None:
            _stop(proc, signal.SIGTERM)
    assert _server_pids(data) == []  # SIGTERM stopped PostgreSQL and Redis too

    proc = _start(port, env)  # the next start reuses the data folder
    try:
        again = httpx.get(f"{base}/api/v1/clicks/{click_id}", headers=auth)
        assert again.status_code == 200 and again.json()["click_id"] == click_id
    finally:
        _stop(proc, signal.SIGINT)
    assert _server_pids(data) == []
