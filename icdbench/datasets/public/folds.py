"""Cross-validated splits: one ordinary split folder per fold under the split's folder.

A cross-validated split (``cmc2007``) is stored as::

    DATA_DIR/cmc2007/manifest.json     # split, split_version, folds (k), fold_dirs, seed, extra files + sha256
    DATA_DIR/cmc2007/fold-00/ ...      # a complete split folder (storage contract) per fold
    DATA_DIR/cmc2007/coders.parquet    # extra per-source files named in the manifest (with their sha256)

Fold ``i`` tests on fold ``i``, validates on fold ``i+1 (mod k)`` and trains on the rest, so every document is
tested exactly once. ``fold_dirs`` lists the fold folders for training and evaluation over folds. The top
``manifest.json`` carries ``split_version`` like any split (so version checks work unchanged) and ``fold_dirs``
instead of part files; ``is_cross_validated`` tells the two kinds apart.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from icdbench.datasets.storage import read_manifest, sha256_file, split_folder, write_manifest
from icdbench.errors import UserError


def fold_name(index: int) -> str:
    return f"fold-{index:02d}"


def is_cross_validated(split_dir: Path) -> bool:
    manifest = read_manifest(split_dir, missing_ok=True)
    return manifest is not None and "fold_dirs" in manifest


def fold_dirs(split_dir: Path) -> list[Path]:
    """The fold folders of a cross-validated split, in fold order (each loads with ``load_split``)."""
    manifest = read_manifest(split_dir)
    if "fold_dirs" not in manifest:
        raise UserError(f"{split_dir} is not a cross-validated split (its manifest lists no fold_dirs)")
    return [Path(split_dir) / name for name in manifest["fold_dirs"]]


def write_folds(out_dir: Path, manifest: dict, k: int, write_fold: Callable[[int, Path], None],
                extra_files: dict[str, Callable[[Path], None]], *, force: bool) -> Path:
    """Write ``k`` fold folders (``write_fold(i, folder)``) and ``extra_files`` (name -> writer) atomically."""
    with split_folder(out_dir, manifest, force=force) as tmp:
        for index in range(k):
            write_fold(index, tmp / fold_name(index))
        files = {}
        for name, writer in extra_files.items():
            writer(tmp / name)
            files[name] = sha256_file(tmp / name)
        first = read_manifest(tmp / fold_name(0))  # its card stands for the split (icdbench prepare prints it)
        full = {**manifest, "folds": k, "fold_dirs": [fold_name(i) for i in range(k)], "files": files,
                "stats": first.get("stats"), "stats_of": fold_name(0)}
        write_manifest(tmp, full)
    return Path(out_dir)
