"""The import rules of ARCHITECTURE.md, checked on every module's AST."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("schemas", "tracker", "redirect", "ingest")
THIRD_PARTY_OK_IN_SCHEMAS = {"pydantic", "pydantic_core", "typing_extensions"}
# The composition root wires the parts into processes (docs/adr/0001).
COMPOSITION_ROOT = "tracker/runtime/compose.py"

ALLOWED = {
    "schemas": set(),
    "tracker": {"schemas"},
    "redirect": {"schemas", "tracker"},
    "ingest": {"schemas", "tracker"},
}


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def violations(root: Path = ROOT) -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            for imp in imported_roots(path):
                if imp in PACKAGES and imp != package and imp not in ALLOWED[package]:
                    if rel == COMPOSITION_ROOT and imp in ("redirect", "ingest"):
                        continue
                    found.append(f"{rel} imports {imp}")
                if package == "schemas" and imp not in PACKAGES:
                    import sys

                    if imp not in sys.stdlib_module_names and imp not in THIRD_PARTY_OK_IN_SCHEMAS:
                        found.append(f"{rel} imports {imp} (schemas: pydantic and stdlib only)")
    return found


def test_packages_respect_the_import_rules() -> None:
    assert violations() == []


def test_the_check_catches_a_forbidden_import(tmp_path: Path) -> None:
    for package in PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "redirect" / "bad.py").write_text("from ingest.worker import Worker\n")
    (tmp_path / "ingest" / "bad.py").write_text("import redirect.front\n")
    (tmp_path / "schemas" / "bad.py").write_text("import asyncpg\nfrom tracker import metrics\n")
    (tmp_path / "tracker" / "bad.py").write_text("from redirect import sink\n")
    assert sorted(violations(tmp_path)) == [
        "ingest/bad.py imports redirect",
        "redirect/bad.py imports ingest",
        "schemas/bad.py imports asyncpg (schemas: pydantic and stdlib only)",
        "schemas/bad.py imports tracker",
        "tracker/bad.py imports redirect",
    ]


def test_pure_domain_does_no_io() -> None:
    io = {"asyncpg", "redis", "httpx", "socket", "fastapi", "uvicorn", "subprocess"}
    for path in (ROOT / "tracker" / "domain").rglob("*.py"):
        assert not imported_roots(path) & io, path
