"""Every benchmark's last line is one JSON object with its figures (loadtests/summary.py)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[2]
# Every command in loadtests/ (a module that runs as a script) is a benchmark.
BENCHMARKS = sorted(
    p for p in (ROOT / "loadtests").rglob("*.py")
    if '__name__ == "__main__"' in p.read_text()
)  # fmt: skip


def test_the_in_process_benchmark_ends_with_its_figures_as_json() -> None:
    r = subprocess.run([sys.executable, "-m", "loadtests.redirect.inprocess", "--rounds", "2",
                        "--clicks", "2000"], cwd=ROOT, capture_output=True, text=True,
                       timeout=120, check=True)  # fmt: skip
    last = orjson.loads(r.stdout.strip().splitlines()[-1])
    assert last["benchmark"] == "loadtests.redirect.inprocess"
    assert 0 < last["best_us_per_click"] <= last["median_us_per_click"]
    assert last["rounds"] == 2 and last["clicks_per_round"] == 2000
    assert len(last["load_start"]) == len(last["load_end"]) == 3 and last["cpus"] >= 1


def test_every_benchmark_prints_a_summary_named_after_its_module() -> None:
    assert len(BENCHMARKS) >= 6
    for path in BENCHMARKS:
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        calls = [node for node in ast.walk(ast.parse(path.read_text()))
                 if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Summary"]  # fmt: skip
        names = [c.args[0].value for c in calls if isinstance(c.args[0], ast.Constant)]
        assert names == [module], (path, names)


def test_the_redirect_benchmark_states_the_issue_figures() -> None:
    source = (ROOT / "loadtests" / "redirect" / "bench.py").read_text()
    for key in ("tracker_rps", "raw_rps", "naive_rps", "tracker_p99_ms", "raw_p99_ms",
                "stored_ratio"):  # fmt: skip
        assert f'"{key}"' in source, key
    source = (ROOT / "loadtests" / "ingest" / "bench.py").read_text()
    for key in ("worker_rows_s", "copy_rows_s"):
        assert f"{key}=" in source, key
