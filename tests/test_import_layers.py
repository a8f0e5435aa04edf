"""Imports go down the floors only and never in a circle (ARCHITECTURE.md; issue 18).

The walker is checked on a small package made here, then the rules on icdbench itself: a function-local import is
kept only for an optional or heavy dependency (torch, Lightning, polars, matplotlib, Ray, submitit) and says so in a
comment on its line or the line above. ``python tests/import_graph.py`` prints the counts and every offending import.
"""

from __future__ import annotations

from pathlib import Path

from import_graph import (
    FLOORS,
    PACKAGE,
    cycles,
    local_imports,
    package_of,
    read_graph,
    silent,
    statements,
    summary,
    upward,
)

ROOT = Path(__file__).resolve().parents[1] / PACKAGE


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / PACKAGE
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_the_walker_finds_upward_imports_cycles_and_function_local_imports(tmp_path):
    root = _package(tmp_path, {
        "__init__.py": "",
        "io.py": "import os\n",
        "codes/__init__.py": "",
        "codes/system.py": "from icdbench import io\nfrom typing import TYPE_CHECKING\n"
                           "if TYPE_CHECKING:\n    from icdbench.training.run import Run\n",
        "training/__init__.py": "",
        "training/run.py": "from .fit import fit\n\ndef train():\n    from icdbench.results.record import write\n"
                           "    import numpy\n",
        "training/fit.py": "def fit():\n    from icdbench.training import run\n",
        "results/__init__.py": "",
        "results/record.py": "from ..training.run import train\n",
        "models/__init__.py": "",
        "models/caml.py": "def build():\n    from icdbench.training.fit import fit  # a model reaching up\n",
    })  # fmt: skip
    graph = read_graph(root)
    assert graph.modules == {"icdbench", "icdbench.io", "icdbench.codes", "icdbench.codes.system",
                             "icdbench.training", "icdbench.training.run", "icdbench.training.fit",
                             "icdbench.results", "icdbench.results.record", "icdbench.models",
                             "icdbench.models.caml"}  # fmt: skip
    # the type-only import from codes up to training is no edge; results sits below training, so a record module
    # that reaches into training runs up (training -> results runs down)
    assert sorted((i.importer, i.target) for i in upward(graph)) == [
        ("icdbench.models.caml", "icdbench.training.fit"),
        ("icdbench.results.record", "icdbench.training.run"),
    ]
    assert cycles(graph.edges()) == [
        ["icdbench.results.record", "icdbench.training.fit", "icdbench.training.run"]
    ]
    local = local_imports(graph)
    assert statements(local) == 4 and sum(i.target == "numpy" for i in local) == 1
    # the model's import says something on its line; the other three say nothing
    assert sorted(f"{i.importer}:{i.line} -> {i.target}" for i in silent(graph, root)) == [
        "icdbench.training.fit:2 -> icdbench.training.run",
        "icdbench.training.run:4 -> icdbench.results.record",
        "icdbench.training.run:5 -> numpy",
    ]
    counts = summary(graph)
    assert counts["cycles (module-level imports only)"] == 0  # the circle closes only through function bodies
    assert counts["  of another icdbench package"] == 2


def test_every_package_has_a_floor():
    assert {package_of(m) for m in read_graph(ROOT).modules} <= set(FLOORS)


def test_no_import_runs_up_a_floor():
    assert [f"{i.importer}:{i.line} -> {i.target}" for i in upward(read_graph(ROOT))] == []


def test_no_import_cycle_between_modules():
    assert cycles(read_graph(ROOT).edges()) == []


def test_a_function_local_import_says_why():
    """Only optional or heavy dependencies are imported inside a function, each with a comment saying so."""
    assert [f"{i.importer}:{i.line} -> {i.target}" for i in silent(read_graph(ROOT), ROOT)] == []

