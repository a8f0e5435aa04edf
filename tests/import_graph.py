"""The import graph of the ``icdbench`` package, read from the source with ``ast`` (nothing is imported).

Floors (ARCHITECTURE.md), bottom up: the ground floor ``io``, ``paths``, ``errors``; then ``models``, ``codes``,
``config``; ``datasets``; ``metrics``; ``results`` (the run record and the leaderboards: a pure reader and renderer
of records); ``training`` (which writes the records); and on top the application layer (``app``, ``grid``) and
``cli``. An import from a lower floor to a higher one is *upward*; an import between
packages on the same floor is allowed.

Edges are the modules an import names explicitly (``from icdbench.results import record`` is an edge to
``icdbench.results.record``); the implicit import of a parent package's ``__init__`` is not an edge. Imports
under ``if TYPE_CHECKING:`` never run and are left out of the graph (and counted apart). Imports inside a
function body are *function-local*; they run, so they are edges of the graph too.

Run ``python tests/import_graph.py`` for the report.
"""

from __future__ import annotations

import ast
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "icdbench"
# The floors, bottom up (ARCHITECTURE.md). results sits below training: the run record is written by training and
# read by results, which imports nothing that trains (issue 18).
FLOORS: dict[str, int] = {
    "__init__": 0, "io": 0, "paths": 0, "errors": 0,
    "models": 1, "codes": 1, "config": 1,
    "datasets": 2,
    "metrics": 3,
    "results": 4,
    "training": 5,
    "app": 6, "grid": 6,
    "cli": 7,
}  # fmt: skip


@dataclass(frozen=True)
class Import:
    importer: str  # module name, e.g. icdbench.results.regress
    target: str  # the imported module (icdbench modules) or top-level name (third-party)
    line: int
    local: bool  # inside a function body
    type_only: bool  # under `if TYPE_CHECKING:`


@dataclass
class Graph:
    modules: set[str]
    imports: list[Import] = field(default_factory=list)

    def internal(self) -> list[Import]:
        """Imports of icdbench modules that run (not type-only), without a module's imports of itself."""
        return [i for i in self.imports if i.target in self.modules and not i.type_only and i.importer != i.target]

    def edges(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {m: set() for m in self.modules}
        for imp in self.internal():
            out[imp.importer].add(imp.target)
        return out


def package_of(module: str) -> str:
    """``icdbench.models.layers.conv`` -> ``models``; ``icdbench`` -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def floor_of(module: str) -> int:
    package = package_of(module)
    if package not in FLOORS:
        raise KeyError(f"{module}: package {package!r} has no floor; add it to FLOORS in {__file__}")
    return FLOORS[package]


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def read_graph(root: Path) -> Graph:
    """Every ``*.py`` under the package folder ``root`` and the imports in it."""
    files = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    graph = Graph(set(files))
    for name, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        _walk(tree, name, is_package, graph, local=False, type_only=False)
    return graph


def _walk(node: ast.AST, module: str, is_package: bool, graph: Graph, *, local: bool, type_only: bool) -> None:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            for target in _targets(child, module, is_package, graph.modules):
                graph.imports.append(Import(module, target, child.lineno, local, type_only))
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for stmt in child.body:
                _walk(ast.Module(body=[stmt], type_ignores=[]), module, is_package, graph, local=local,
                      type_only=True)
            for stmt in child.orelse:
                _walk(ast.Module(body=[stmt], type_ignores=[]), module, is_package, graph, local=local,
                      type_only=type_only)
        else:
            inside = local or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            _walk(child, module, is_package, graph, local=inside, type_only=type_only)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool, modules: set[str]) -> list[str]:
    """The modules one import statement names (one per imported submodule)."""
    if isinstance(node, ast.Import):
        return [_known(alias.name, modules) for alias in node.names]
    base = node.module or ""
    if node.level:  # relative: resolve against the importing package
        anchor = module.split(".") if is_package else module.split(".")[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join(anchor + ([base] if base else []))
    if base.split(".")[0] != PACKAGE:
        return [base.split(".")[0]]
    out = []
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        out.append(sub if sub in modules else _known(base, modules))
    return sorted(set(out))


def _known(name: str, modules: set[str]) -> str:
    """The longest icdbench module that ``name`` starts with; third-party names become their top-level name."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in modules:
            return ".".join(parts[:end])
    return parts[0]


def upward(graph: Graph) -> list[Import]:
    """Imports from a lower floor to a higher one."""
    return [i for i in graph.internal() if floor_of(i.importer) < floor_of(i.target)]


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The import circles: strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def module_level_edges(graph: Graph) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {m: set() for m in graph.modules}
    for imp in graph.internal():
        if not imp.local:
            out[imp.importer].add(imp.target)
    return out


def local_imports(graph: Graph) -> list[Import]:
    """Function-local imports that run, one per imported module (icdbench modules and third-party alike)."""
    return [i for i in graph.imports if i.local and not i.type_only and i.importer != i.target]


def silent(graph: Graph, root: Path) -> list[Import]:
    """Function-local imports with no comment (saying which optional or heavy dependency they wait for) on their
    line or the line above; ``root`` is the package folder ``graph`` was read from."""
    out = []
    for imp in local_imports(graph):
        path = root.parent.joinpath(*imp.importer.split(".")).with_suffix(".py")
        if not path.is_file():
            path = path.with_suffix("") / "__init__.py"
        lines = path.read_text(encoding="utf-8").splitlines()
        if not any("#" in line for line in lines[max(imp.line - 2, 0) : imp.line]):
            out.append(imp)
    return out


def statements(imports: list[Import]) -> int:
    """How many import statements ``imports`` come from."""
    return len({(i.importer, i.line) for i in imports})


def summary(graph: Graph) -> dict[str, int]:
    local = local_imports(graph)
    internal = [i for i in local if i.target in graph.modules]
    across = [i for i in internal if package_of(i.importer) != package_of(i.target)]
    return {
        "modules": len(graph.modules),
        "upward imports": len(upward(graph)),
        "cycles (all imports)": len(cycles(graph.edges())),
        "cycles (module-level imports only)": len(cycles(module_level_edges(graph))),
        "function-local import statements": statements(local),
        "  of icdbench modules": statements(internal),
        "  of another icdbench package": statements(across),
    }


def report(root: Path) -> str:
    graph = read_graph(root)
    lines = [f"{key}: {value}" for key, value in summary(graph).items()]
    ups = upward(graph)
    pairs = Counter(f"{package_of(i.importer)} -> {package_of(i.target)}" for i in ups)
    lines += ["", "upward imports:"] + [f"  {pair}: {n}" for pair, n in sorted(pairs.items())]
    lines += [f"    {i.importer}:{i.line} -> {i.target}" for i in sorted(ups, key=lambda i: (i.importer, i.line))]
    lines += ["", "cycles:"] + ["  " + " <-> ".join(c) for c in cycles(graph.edges())]
    lines += ["", "function-local imports without a comment:"]
    lines += [f"  {i.importer}:{i.line} -> {i.target}" for i in silent(graph, root)]
    return "\n".join(lines)


if __name__ == "__main__":
    here = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / PACKAGE
    print(report(here))
