"""The package's shape: layers imported only downwards, no import cycles, modules of a
readable size.

The layers are TEAM.md's dependency order, low to high. A module may import modules of
its own layer (siblings; without cycles) and of lower layers, at module level, inside
functions and under ``if TYPE_CHECKING:`` alike. Cycles are looked for among all
imports except those under ``if TYPE_CHECKING:`` (annotations only, never executed).
A module over ``MAX_LINES`` lines says why in its docstring, on a line starting with
``Size:``. Imports are read with ``ast``; nothing is imported.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

from .helpers import REPO

PACKAGE = "compressor"
EXTENSION = "compressor._C"

#: Low to high; a name covers the module or package and everything below it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("compressor._C", "compressor.errors", "compressor.patterns", "compressor.nn",
     "compressor.ops", "compressor.schedule"),
    ("compressor.graph",),
    ("compressor.engine",),
    ("compressor.models", "compressor.data", "compressor.sparse", "compressor.quant"),
    ("compressor.io",),
    ("compressor", "compressor.api"),  # the package's __init__: the public API map
    ("compressor.runner", "compressor.bench", "compressor.experiments"),
    ("compressor.cli", "compressor.__main__"),
)
MAX_LINES = 400
SIZE_MARKER = "Size:"


@dataclass(frozen=True)
class Module:
    name: str
    source: str
    is_package: bool = False


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int
    type_checking: bool


def read_package(root: Path, package: str = PACKAGE) -> dict[str, Module]:
    """Every module of the package below ``root / package``, by dotted name."""
    modules = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        modules[name] = Module(name, path.read_text(encoding="utf-8"), is_package)
    return modules


def layer_of(name: str) -> int | None:
    """The layer of a module: the one naming it or its closest enclosing package."""
    best: tuple[int, int] | None = None  # (length of the matched name, layer)
    for layer, roots in enumerate(LAYERS):
        for root in roots:
            covers = name == root or (root != PACKAGE and name.startswith(root + "."))
            if covers and (best is None or len(root) > best[0]):
                best = (len(root), layer)
    return None if best is None else best[1]


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(module: Module, known: set[str]) -> list[Edge]:
    """The package modules ``module`` imports, wherever the import statement is."""
    edges: list[Edge] = []
    package = module.name if module.is_package else module.name.rpartition(".")[0]

    def add(target: str, node: ast.stmt, type_checking: bool) -> None:
        if target == PACKAGE or target.startswith(PACKAGE + "."):
            edges.append(Edge(module.name, target, node.lineno, type_checking))

    def visit(node: ast.AST, type_checking: bool) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                visit(child, True)
            for child in node.orelse:
                visit(child, type_checking)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node, type_checking)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                parent = ".".join(base + ([node.module] if node.module else []))
            else:
                parent = node.module or ""
            for alias in node.names:
                child = f"{parent}.{alias.name}"
                add(child if child in known else parent, node, type_checking)
        for child in ast.iter_child_nodes(node):
            visit(child, type_checking)

    visit(ast.parse(module.source), False)
    return edges


def all_edges(modules: dict[str, Module]) -> list[Edge]:
    known = set(modules) | {EXTENSION}
    return [e for m in modules.values() for e in imports_of(m, known)]


def layer_violations(modules: dict[str, Module]) -> list[str]:
    """Imports of a higher layer, and modules in no layer."""
    problems = [f"{name} is in no layer of LAYERS" for name in modules if layer_of(name) is None]
    for e in all_edges(modules):
        src, dst = layer_of(e.source), layer_of(e.target)
        if dst is None:
            problems.append(f"{e.source}:{e.line} imports {e.target}, which is in no layer")
        elif src is not None and dst > src:
            problems.append(f"{e.source} (layer {src}) imports {e.target} (layer {dst}) at "
                            f"line {e.line}")
    return problems


def import_cycles(modules: dict[str, Module]) -> list[list[str]]:
    """The strongly connected sets of two or more modules (Tarjan), each sorted."""
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for e in all_edges(modules):
        if not e.type_checking and e.target in graph and e.target != e.source:
            graph[e.source].add(e.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return cycles


def oversized(modules: dict[str, Module]) -> list[str]:
    """Modules over MAX_LINES lines whose docstring has no ``Size:`` line."""
    problems = []
    for name, module in modules.items():
        lines = module.source.count("\n") + (not module.source.endswith("\n"))
        if lines <= MAX_LINES:
            continue
        doc = ast.get_docstring(ast.parse(module.source)) or ""
        if not any(line.strip().startswith(SIZE_MARKER) for line in doc.splitlines()):
            problems.append(f"{name}: {lines} lines and no '{SIZE_MARKER}' line in its docstring "
                            "saying why")
    return problems


# ---- the package ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def package() -> dict[str, Module]:
    modules = read_package(REPO)
    assert len(modules) > 40 and "compressor.engine.scheduler" in modules
    return modules


def test_layers_import_only_downwards(package):
    assert layer_violations(package) == []


def test_no_import_cycles(package):
    assert import_cycles(package) == []


def test_long_modules_say_why(package):
    assert oversized(package) == []


# ---- the checks themselves -----------------------------------------------------------------

def fake(**sources: str) -> dict[str, Module]:
    """Modules from ``name=source`` (dots as ``__``; a trailing ``__init`` makes a package)."""
    modules = {}
    for key, source in sources.items():
        is_package = key.endswith("__init")
        name = key.removesuffix("__init").rstrip("_").replace("__", ".")
        modules[name] = Module(name, source, is_package)
    return modules


def test_checker_finds_upward_imports_anywhere():
    modules = fake(compressor__init="", compressor__errors="from .cli import main\n",
                   compressor__cli__init="", compressor__cli__main="def main(): ...\n",
                   compressor__engine__init="",
                   compressor__engine__masks="def f():\n    from ..runner import run\n",
                   compressor__engine__build=("from typing import TYPE_CHECKING\n"
                                              "if TYPE_CHECKING:\n    from ..io import load\n"),
                   compressor__runner__init="", compressor__io__init="",
                   compressor__graph__init="from ..engine import masks\n")
    found = layer_violations(modules)
    assert any(p.startswith("compressor.errors (layer 0) imports compressor.cli.main (layer 7)")
               for p in found), found
    assert any(p.startswith("compressor.engine.masks (layer 2) imports compressor.runner ")
               for p in found), found  # inside a function
    assert any(p.startswith("compressor.engine.build (layer 2) imports compressor.io ")
               for p in found), found  # annotations only, still the wrong direction
    assert any(p.startswith("compressor.graph (layer 1) imports compressor.engine.masks")
               for p in found), found
    assert len(found) == 4
    assert layer_violations(fake(compressor__engine__init="from ..ops import masks\n",
                                 compressor__ops__init="", compressor__ops__masks="")) == []
    assert layer_violations(fake(compressor__stray="")) == ["compressor.stray is in no layer of LAYERS"]


def test_checker_finds_cycles_lazy_or_not():
    lazy = fake(compressor__io__init="", compressor__io__load="from . import sparse\n",
                compressor__io__sparse="def f():\n    from .load import model_from_state\n")
    assert import_cycles(lazy) == [["compressor.io.load", "compressor.io.sparse"]]
    # through a package __init__ that re-exports a module which imports the package
    via_init = fake(compressor__schedule__init="from .loader import read\n",
                    compressor__schedule__loader="from ..engine import build\n",
                    compressor__engine__init="", compressor__engine__build="from ..schedule import x\n")
    assert import_cycles(via_init) == [["compressor.engine.build", "compressor.schedule",
                                        "compressor.schedule.loader"]]
    annotations_only = fake(compressor__engine__init="",
                            compressor__engine__a="from .b import B\n",
                            compressor__engine__b=("from typing import TYPE_CHECKING\n"
                                                   "if TYPE_CHECKING:\n    from .a import A\n"))
    assert import_cycles(annotations_only) == []


def test_checker_finds_long_modules_without_a_reason():
    body = "x = 1\n" * MAX_LINES
    assert oversized(fake(compressor__short='"""Short."""\n' + "x = 1\n" * (MAX_LINES - 1))) == []
    assert oversized(fake(compressor__long='"""Long."""\n' + body)) == [
        f"compressor.long: {MAX_LINES + 1} lines and no 'Size:' line in its docstring saying why"]
    assert oversized(fake(compressor__long='"""Long.\n\nSize: one walk over the graph.\n"""\n'
                          + body)) == []
    assert oversized(fake(compressor__long='"""Long; Size: hidden mid-line."""\n' + body)) != []
