"""The import rules of ARCHITECTURE.md, checked on every module's AST.

Three things are checked: which top-level package may import which (the flows meet only
in ``schemas`` and ``tracker``; ``service``, the composition root, sits above them all and
nothing imports it), that no import inside ``tracker`` runs back up its layers (pure
domain rules, then process resources, then the store, then the API), and that no two
modules import each other, directly or through others. Every import counts: at module
level, inside a function, or only for the type checker.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("schemas", "tracker", "redirect", "ingest", "service")
THIRD_PARTY_OK_IN_SCHEMAS = {"pydantic", "pydantic_core", "typing_extensions"}

ALLOWED = {
    "schemas": set(),
    "tracker": {"schemas"},
    "redirect": {"schemas", "tracker"},
    "ingest": {"schemas", "tracker"},
    # The composition root wires the parts into processes (docs/adr/0001).
    "service": {"schemas", "tracker", "redirect", "ingest"},
}

# Layers inside ``tracker``, lowest first: a module imports only its own layer or lower.
TRACKER_LAYERS = {
    "tracker.domain": 0,
    "tracker.settings": 1,
    "tracker.metrics": 1,
    "tracker.redis_client": 1,
    "tracker.resources": 1,
    "tracker.runtime": 1,
    "tracker.geoip": 1,
    "tracker.store": 2,
    "tracker.api": 3,
}


def _imports(path: Path, module: str) -> Iterator[str]:
    """Every module ``path`` imports (absolute names; ``from a import b`` yields ``a.b``
    when ``a.b`` is a module of ours, else ``a``)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            for alias in node.names:
                yield f"{base}.{alias.name}"
            yield base


def modules(root: Path = ROOT) -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _ours(name: str, known: dict[str, Path]) -> str | None:
    """The module of ours that an imported name refers to (longest known prefix)."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def graph(root: Path = ROOT) -> dict[str, set[str]]:
    known = modules(root)
    edges: dict[str, set[str]] = {}
    for name, path in known.items():
        targets = {_ours(i, known) for i in _imports(path, name)}
        edges[name] = {t for t in targets if t is not None and t != name}
    return edges


def _layer(module: str) -> int | None:
    for prefix, layer in TRACKER_LAYERS.items():
        if module == prefix or module.startswith(prefix + "."):
            return layer
    return None


def violations(root: Path = ROOT) -> list[str]:
    found = []
    known = modules(root)
    for name, path in known.items():
        package = name.split(".")[0]
        for imp in _imports(path, name):
            top = imp.split(".")[0]
            if top in PACKAGES and top != package and top not in ALLOWED[package]:
                found.append(f"{name} imports {top}")
            if package == "schemas" and top not in PACKAGES and top:
                if top not in sys.stdlib_module_names and top not in THIRD_PARTY_OK_IN_SCHEMAS:
                    found.append(f"{name} imports {top} (schemas: pydantic and stdlib only)")
    for name, targets in graph(root).items():
        mine = _layer(name)
        for target in targets:
            theirs = _layer(target)
            if mine is not None and theirs is not None and theirs > mine:
                found.append(f"{name} imports {target} (up the layers of tracker)")
    return sorted(set(found))


def cycles(root: Path = ROOT) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan's algorithm)."""
    edges = graph(root)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return sorted(groups)


def test_packages_respect_the_import_rules() -> None:
    assert violations() == []


def test_no_module_imports_itself_back() -> None:
    assert cycles() == []


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for package in PACKAGES:
        (tmp_path / package).mkdir(exist_ok=True)
        (tmp_path / package / "__init__.py").write_text("")
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


def test_the_check_catches_a_forbidden_import(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "redirect/bad.py": "from ingest.worker import Worker\n",
        "ingest/bad.py": "def f():\n    import redirect.front\n",
        "schemas/bad.py": "import asyncpg\nfrom tracker import metrics\n",
        "tracker/bad.py": "from redirect import sink\n",
        "ingest/wires.py": "from service.compose import build_app\n",
        "tracker/domain/__init__.py": "",
        "tracker/domain/rule.py": "from tracker.store import clicks\n",
        "tracker/store/__init__.py": "",
        "tracker/store/clicks.py": "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from tracker.api.deps import Reader\n",
        "tracker/api/__init__.py": "",
        "tracker/api/deps.py": "",
    })  # fmt: skip
    assert violations(root) == [
        "ingest.bad imports redirect",
        "ingest.wires imports service",
        "redirect.bad imports ingest",
        "schemas.bad imports asyncpg (schemas: pydantic and stdlib only)",
        "schemas.bad imports tracker",
        "tracker.bad imports redirect",
        "tracker.domain.rule imports tracker.store (up the layers of tracker)",
        "tracker.domain.rule imports tracker.store.clicks (up the layers of tracker)",
        "tracker.store.clicks imports tracker.api.deps (up the layers of tracker)",
    ]


def test_the_check_catches_a_cycle(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "ingest/a.py": "from ingest import b\n",
        "ingest/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ingest.c import C\n",
        "ingest/c.py": "def f():\n    from .a import x\n",
        "ingest/d.py": "from ingest import a\n",
    })  # fmt: skip
    assert cycles(root) == [["ingest.a", "ingest.b", "ingest.c"]]


def test_pure_domain_does_no_io() -> None:
    io = {"asyncpg", "redis", "httpx", "socket", "fastapi", "uvicorn", "subprocess"}
    for path in (ROOT / "tracker" / "domain").rglob("*.py"):
        tops = {i.split(".")[0] for i in _imports(path, "tracker.domain.x")}
        assert not tops & io, path
