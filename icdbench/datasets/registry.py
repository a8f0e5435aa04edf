"""The split registry: every named split, its version and how to prepare it.

A module that can prepare splits registers them with ``@register_split``; :func:`all_splits` imports the modules
named in ``SPLIT_MODULES`` by name on first use (as ``icdbench.models.registry`` discovers model files), so a split
module imports this registry and the registry imports none of them back.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from icdbench.datasets.fingerprint import code_fingerprint, preparation_record
from icdbench.errors import UserError, lookup

# prepare(out_dir, options) -> out_dir. ``options`` holds --source, --seed, --force, --split-ids, --evidence...
Preparer = Callable[[Path, "PrepareOptions"], Path]


@dataclass(frozen=True)
class PrepareOptions:
    force: bool = False
    source: Path | None = None  # raw files (MIMIC_DIR, CMC XML, CodiEsp folder); None for synthetic splits
    split_ids: Path | None = None  # published split id lists
    evidence: Path | None = None  # MDACE annotations
    seed: int = 0
    folds: int | None = None  # cross-validated corpora: number of folds (None = the corpus default)
    command: str = ""  # the command line recorded in the manifest


@dataclass(frozen=True)
class SplitSpec:
    name: str
    version: str
    description: str
    prepare: Preparer
    needs_source: str | None = None  # e.g. "MIMIC_DIR" — what the user must provide
    folds: int | None = None  # cross-validated corpora (cmc2007) evaluate over k folds


_SPLITS: dict[str, SplitSpec] = {}


def register_split(name: str, version: str, description: str, needs_source: str | None = None, folds=None):
    def decorator(prepare: Preparer) -> Preparer:
        if name in _SPLITS:
            raise ValueError(f"split {name!r} registered twice")
        _SPLITS[name] = SplitSpec(name, version, description, prepare, needs_source, folds)
        return prepare

    return decorator


def check_source(split_dir: Path, manifest: dict, source: Path | None, hint: str) -> None:
    """Refuse to reuse a split prepared from another ``--source`` folder. Only splits whose manifest records
    ``source.path`` (the resolved folder) are checked; comparing paths, not contents, keeps this free for
    multi-GB sources."""
    recorded = manifest.get("source")
    recorded = recorded.get("path") if isinstance(recorded, dict) else None  # synthetic splits: a string
    if source is None or recorded is None:
        return
    given = str(Path(source).expanduser().resolve())
    if given != recorded:
        raise UserError(f"{split_dir} was prepared from {recorded}, not from --source {given}; {hint}")


def preparation(name: str, options: PrepareOptions) -> dict:
    """The manifest's ``preparation`` block for split ``name``: fingerprints of the code that prepares it and of
    ``options`` (``icdbench.datasets.fingerprint``)."""
    return preparation_record(get_split(name).prepare.__module__, options)


def stale_reason(name: str, manifest: dict) -> str | None:
    """Why a prepared split of ``name`` is not what this code prepares (its preparation code differs), or None."""
    recorded = (manifest.get("preparation") or {}).get("code_sha256")
    if recorded is None:
        return "it was prepared before icdbench recorded the code that prepares a split"
    if recorded != code_fingerprint(get_split(name).prepare.__module__):
        return "the code that prepares it has changed since (a fix may change what the split holds)"
    return None


# The modules that register splits (each package's __init__ imports its split modules).
SPLIT_MODULES = ("icdbench.datasets.mimic", "icdbench.datasets.public", "icdbench.datasets.synthetic.splits")


def all_splits() -> dict[str, SplitSpec]:
    for module in SPLIT_MODULES:
        importlib.import_module(module)
    return dict(_SPLITS)


def get_split(name: str) -> SplitSpec:
    return lookup("split", name, all_splits(), "icdbench list splits")
