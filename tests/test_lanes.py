"""Every entry of the fast lane's list (tests/lanes.py) names a module or test that exists,
so a renamed slow test cannot silently move into the fast lane's list as a dead entry."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.lanes import SLOW_MODULES, SLOW_TESTS

ROOT = Path(__file__).resolve().parents[1]


def _tests_of(module: str) -> set[str]:
    tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))
    return {n.name for n in tree.body
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name.startswith("test")}  # fmt: skip


def test_every_slow_entry_names_what_exists() -> None:
    for module in SLOW_MODULES:
        assert _tests_of(module), f"{module}: no such test module"
    for entry in SLOW_TESTS:
        module, name = entry.split("::")
        assert module not in SLOW_MODULES, f"{entry}: its whole module is listed already"
        assert name in _tests_of(module), f"{entry}: no such test"
