"""wrk runs of the redirect benchmark: one measurement, its parsing, medians."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import psutil

UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    bad: int
    max_ms: float = float("nan")
    cpu_us: float = float("nan")  # server CPU (user + system, all its processes) per request


def cpu_seconds(pid: int) -> float:
    """CPU time used so far by a process and its children (granian's worker is one)."""
    proc = psutil.Process(pid)
    total = 0.0
    for p in (proc, *proc.children(recursive=True)):
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            total += t.user + t.system
    return total


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s|m)\b", text)
    if not m:
        return float("nan")
    v = float(m.group(1))
    return {"us": v / 1000, "ms": v, "s": v * 1000, "m": v * 60_000}[m.group(2)]


def pause_script(folder: Path, pause_ms: int) -> Path:
    """A wrk script making each connection wait ``pause_ms`` before each request: the
    offered rate is then at most connections x 1000 / pause_ms requests/s, whatever the
    server's speed, so latency is measured below saturation (not set by queueing)."""
    path = folder / f"pause{pause_ms}.lua"
    path.write_text(f"function delay()\n  return {pause_ms}\nend\n")
    return path


def pin(cpu: int) -> list[str]:
    return ["taskset", "-c", str(cpu)] if shutil.which("taskset") and os.cpu_count() != 1 else []


def wrk(url: str, seconds: int, connections: int, script: Path | None = None,
        pid: int | None = None) -> Result:  # fmt: skip
    cmd = [*pin(1), "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
           "-H", f"User-Agent: {UA}", *(["-s", str(script)] if script else []), url]  # fmt: skip
    cpu0 = cpu_seconds(pid) if pid else 0.0
    out = subprocess.run(
        cmd, capture_output=True, text=True, timeout=seconds + 30, check=True
    ).stdout
    cpu = cpu_seconds(pid) - cpu0 if pid else float("nan")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    top = _ms(re.search(r"Latency\s+\S+\s+\S+\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    if any(v != v for v in (p50, p99, top)):  # NaN: show what wrk printed
        print(f"unparsed wrk output:\n{out}", file=sys.stderr)
    n = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad_m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    err_m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    bad = int(bad_m.group(1)) if bad_m else 0
    if err_m:
        bad += sum(int(x) for x in err_m.groups())
    return Result("", rps, p50, p99, n, bad, top, cpu / max(n, 1) * 1e6)


def median(name: str, rs: list[Result]) -> Result:
    def med(values: list[float]) -> float:
        return sorted(values)[len(values) // 2]

    return Result(name, med([r.rps for r in rs]), med([r.p50_ms for r in rs]),
                  med([r.p99_ms for r in rs]), sum(r.requests for r in rs), sum(r.bad for r in rs),
                  med([r.max_ms for r in rs]), med([r.cpu_us for r in rs]))  # fmt: skip
