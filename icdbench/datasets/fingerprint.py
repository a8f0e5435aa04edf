"""The preparation fingerprint: which code and which inputs made a prepared split.

A split's version says which contract its files follow; it does not change when a fix in the preparation
changes what the files hold (sentence offsets added, a cleaning rule corrected). So every manifest records
``preparation``: a hash of the source of the module that prepares the split and of every module of
``icdbench.datasets`` and ``icdbench.codes`` it imports, directly or not (imports inside functions included,
read from the source, not from what happens to be loaded), plus the options it was prepared with. A split
prepared by other code is stale: ``icdbench.datasets.prepared.ensure_split`` regenerates a synthetic one and asks
for ``icdbench prepare SPLIT --force`` where raw files are needed.

The package ``__init__`` of ``icdbench.datasets`` (it imports every split module to register them) and the
registry are not followed: they decide which splits exist, not what a split holds.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
from functools import cache
from pathlib import Path

PACKAGES = ("icdbench.datasets", "icdbench.codes")
NOT_FOLLOWED = frozenset({"icdbench.datasets", "icdbench.datasets.registry"})


def _module_file(name: str) -> Path | None:
    """The source file of module ``name``, or None when ``name`` is not a module (e.g. a function)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, AttributeError, ValueError):
        return None
    return Path(spec.origin) if spec is not None and spec.origin and spec.origin.endswith(".py") else None


def _imported_modules(tree: ast.AST, package: str) -> set[str]:
    """The modules ``tree`` imports (module ``package`` resolves relative imports). ``from P import a, b``
    counts ``P`` only when it takes a name that is not a submodule: ``from icdbench.datasets.mimic import
    reading`` needs ``reading``, not the package ``__init__`` that registers every MIMIC split."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            if not _in_scope(base):
                continue
            submodules = {f"{base}.{alias.name}" for alias in node.names}
            submodules = {name for name in submodules if _module_file(name) is not None}
            out.update(submodules)
            if len(submodules) < len(node.names):
                out.add(base)
    return out


def _in_scope(name: str) -> bool:
    return name not in NOT_FOLLOWED and any(name == p or name.startswith(p + ".") for p in PACKAGES)


@cache
def preparation_modules(root: str) -> tuple[tuple[str, Path], ...]:
    """``root`` and the modules of ``PACKAGES`` it reaches through imports, sorted by name."""
    found: dict[str, Path] = {}
    todo = [root]
    while todo:
        name = todo.pop()
        path = _module_file(name)
        if name in found or path is None:
            continue
        found[name] = path
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"))
        todo.extend(n for n in _imported_modules(tree, package) if _in_scope(n) and n not in found)
    return tuple(sorted(found.items()))


def code_fingerprint(root: str) -> str:
    """sha256 over the names and sources of :func:`preparation_modules` of ``root``."""
    digest = hashlib.sha256()
    for name, path in preparation_modules(root):
        digest.update(f"{name}\n".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def preparation_record(preparer_module: str, options) -> dict:
    """The manifest's ``preparation`` block: the code fingerprint, the inputs, and one hash of both."""
    source = Path(options.source).expanduser().resolve() if options.source is not None else None
    inputs = {
        "source": str(source) if source else None,
        "split_ids": str(Path(options.split_ids).expanduser().resolve()) if options.split_ids else None,
        "evidence": str(Path(options.evidence).expanduser().resolve()) if options.evidence else None,
        "seed": options.seed,
        "folds": options.folds,
    }
    code = code_fingerprint(preparer_module)
    both = hashlib.sha256(json.dumps({"code": code, "inputs": inputs}, sort_keys=True).encode()).hexdigest()
    return {"code_sha256": code, "inputs": inputs, "fingerprint": both,
            "modules": [name for name, _ in preparation_modules(preparer_module)]}
