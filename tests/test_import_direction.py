"""The direction of imports: app -> engine and cli -> engine, never back; no circles in the engine.

Every ``.py`` under ``cffd_engine/`` and ``app/`` is parsed with ``ast``; every import
statement counts, at any depth (also those inside functions, which run later but are a
dependency all the same), with relative imports resolved. The rules:

(a) no engine module imports ``app``; no engine module outside ``cffd_engine/cli/`` imports
    ``cffd_engine.cli`` (the engine never depends on its command line);
(b) ``app`` may import the engine (and this scan must see it do so);
(c) the engine's parts, the import graph collapsed to ``cffd_engine.<first component>``
    (``analysis``, ``model``, ``continual``, ``store``, ``training``...), hold no cycle.

Lazy imports count for (c) too: an import inside a function is still a dependency, and a
circle through one is a circle in the design.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENGINE, APP, CLI = "cffd_engine", "app", "cffd_engine.cli"


@dataclass(frozen=True)
class Import:
    """One imported module: who imports it, where (file and line) and the statement as written."""

    importer: str
    target: str
    path: Path
    line: int
    text: str

    def where(self) -> str:
        return f"{self.importer} ({self.path}:{self.line}: {self.text})"


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def scan(root: Path, packages: tuple[str, ...] = (ENGINE, APP)) -> list[Import]:
    """Every import in the packages under ``root``, resolved to module names."""
    files = {module_name(root, p): p for package in packages for p in sorted((root / package).rglob("*.py"))}
    found = []
    for name, path in files.items():
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(source, str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # from . import x / from ..a import b: relative to this module's package
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                # ``from pkg import name`` imports the module pkg.name when there is one, else pkg
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names]
            else:
                continue
            text = lines[node.lineno - 1].strip()
            found += [Import(name, target, path.relative_to(root), node.lineno, text) for target in targets]
    return found


def inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def wrong_direction(imports: list[Import]) -> list[str]:
    """Rule (a): an engine module importing app, or an engine module outside the CLI importing the CLI."""
    problems = []
    for i in imports:
        if not inside(i.importer, ENGINE):
            continue
        if inside(i.target, APP):
            problems.append(f"the engine imports the app: {i.where()}")
        elif inside(i.target, CLI) and not inside(i.importer, CLI):
            problems.append(f"the engine imports its command line: {i.where()}")
    return problems


def part(module: str) -> str:
    return ".".join(module.split(".")[:2])


def engine_cycles(imports: list[Import]) -> list[str]:
    """Rule (c): each circle among the engine's parts, with the import lines that close it."""
    edges: dict[tuple[str, str], list[Import]] = {}
    for i in imports:
        if inside(i.importer, ENGINE) and inside(i.target, ENGINE) and part(i.importer) != part(i.target):
            edges.setdefault((part(i.importer), part(i.target)), []).append(i)
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)

    def reachable(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    reach = {node: reachable(node) for node in graph}
    problems, done = [], set()
    for node in sorted(graph):
        if node in done or node not in reach[node]:
            continue
        circle = sorted(n for n in reach[node] if node in reach.get(n, ()))
        done.update(circle)
        lines = dict.fromkeys(
            i.where() for (a, b), found in sorted(edges.items()) if a in circle and b in circle for i in found
        )
        problems.append(f"cycle among {', '.join(circle)}:\n    " + "\n    ".join(lines))
    return problems


def test_the_engine_imports_neither_the_app_nor_its_command_line_and_has_no_cycles():
    imports = scan(ROOT)
    problems = wrong_direction(imports) + engine_cycles(imports)
    assert not problems, "imports against the architecture's direction:\n" + "\n".join(problems)
    # Rule (b), and a sign that the scan sees what it should: the app does import the engine.
    assert any(inside(i.importer, APP) and inside(i.target, ENGINE) for i in imports)
    assert any(inside(i.importer, CLI) and i.target == f"{ENGINE}.store" for i in imports)


def test_the_checker_reports_a_planted_wrong_import_and_a_planted_cycle(tmp_path):
    files = {
        "app/__init__.py": "",
        "app/window.py": "from cffd_engine.model import Net\n",  # allowed: app -> engine
        "cffd_engine/__init__.py": "",
        "cffd_engine/cli/__init__.py": "from cffd_engine import model\n",  # allowed: cli -> engine
        "cffd_engine/model/__init__.py": "class Net:\n    pass\n",
        "cffd_engine/model/layers.py": "def build():\n    from app.window import show\n",
        "cffd_engine/report.py": "def write():\n    from cffd_engine.cli import main\n",
        "cffd_engine/store/__init__.py": "from .versions import Store\n",
        "cffd_engine/store/versions.py": "from cffd_engine import model\nclass Store:\n    pass\n",
        "cffd_engine/model/card.py": "def card():\n    from ..store import versions\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    imports = scan(tmp_path)
    wrong = wrong_direction(imports)
    assert len(wrong) == 2, wrong
    assert "cffd_engine.model.layers (cffd_engine/model/layers.py:2: from app.window import show)" in wrong[0]
    assert "cffd_engine.report (cffd_engine/report.py:2: from cffd_engine.cli import main)" in wrong[1]
    cycles = engine_cycles(imports)
    assert len(cycles) == 1 and cycles[0].startswith("cycle among cffd_engine.model, cffd_engine.store:")
    assert "cffd_engine.model.card (cffd_engine/model/card.py:2: from ..store import versions)" in cycles[0]
    assert (
        "cffd_engine.store.versions (cffd_engine/store/versions.py:1: from cffd_engine import model)"
        in cycles[0]
    )
