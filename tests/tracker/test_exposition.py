"""Metrics summed over processes (prometheus-client multiprocess mode), with real
processes sharing one folder: the hot path's loop metrics are published, a gone
process's counters stay in the sum, its live gauges leave it once reaped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

_ONE = """
import os, sys, orjson
from tracker import exposition, metrics
n, buffered = int(sys.argv[1]), int(sys.argv[2])
for _ in range(n):
    metrics.REDIRECTS.inc("redirect", "human")
    metrics.REDIRECT_SECONDS.observe(0.0004)
metrics.CLICK_BUFFER.set(buffered)
before = exposition.scrape().decode()
reaped = exposition.reap()
print(orjson.dumps({"pid": os.getpid(), "before": before, "reaped": reaped,
                    "after": exposition.scrape().decode()}).decode())
"""


def _run(folder: Path, n: int, buffered: int) -> dict[str, object]:
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(folder))
    out = subprocess.run([sys.executable, "-c", _ONE, str(n), str(buffered)], env=env,
                         capture_output=True, check=True, timeout=60)  # fmt: skip
    result: dict[str, object] = orjson.loads(out.stdout)
    return result


def _value(text: object, name: str) -> float:
    assert isinstance(text, str)
    found = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
             if line.startswith(name) and not line.startswith("#")]  # fmt: skip
    assert len(found) == 1, (name, found)
    return found[0]


def test_two_processes_are_summed_and_a_gone_one_leaves_the_live_gauges(tmp_path: Path) -> None:
    first = _run(tmp_path, 5, 3)
    assert _value(first["after"], 'tracker_redirects_total{cls="human",outcome="redirect"}') == 5
    second = _run(tmp_path, 7, 4)
    # Counters and histograms: both processes, the first one gone or not.
    for key in ("before", "after"):
        text = second[key]
        assert _value(text, 'tracker_redirects_total{cls="human",outcome="redirect"}') == 12
        assert _value(text, "tracker_redirect_seconds_count") == 12
        assert _value(text, 'tracker_redirect_seconds_bucket{le="0.0005"}') == 12
        assert _value(text, 'tracker_redirect_seconds_bucket{le="0.00025"}') == 0
    # The click buffer is each live process's own: the gone one's counts until reaped.
    assert _value(second["before"], "tracker_click_buffer") == 7
    assert second["reaped"] == 1
    assert _value(second["after"], "tracker_click_buffer") == 4
