"""Prepared splits under DATA_DIR as a run needs them: prepared on first use, regenerated when the code that
prepares them changed (synthetic ones), and the folder of one fold of a cross-validated split."""

from __future__ import annotations

import sys
from pathlib import Path

from filelock import FileLock

from icdbench.datasets.public.folds import fold_dirs, is_cross_validated
from icdbench.datasets.registry import PrepareOptions, all_splits, check_source, get_split, stale_reason
from icdbench.datasets.storage import read_manifest
from icdbench.errors import UserError
from icdbench.paths import data_dir


def ensure_split(name: str, source: Path | None = None, command: str = "") -> Path:
    """The prepared split folder under DATA_DIR, preparing it first if it is missing."""
    spec = get_split(name)
    out = data_dir() / name
    manifest = read_manifest(out, missing_ok=True)
    if manifest is None:
        if spec.needs_source and source is None:
            make_hint = " (make bench ... MIMIC_DIR=PATH)" if spec.needs_source == "MIMIC_DIR" else ""
            raise UserError(
                f"split {name} is not prepared and needs {spec.needs_source}: pass --source PATH{make_hint}"
            )
        data_dir().mkdir(parents=True, exist_ok=True)
        with FileLock(str(data_dir() / f".{name}.lock")):
            if read_manifest(out, missing_ok=True) is None:
                spec.prepare(
                    out, PrepareOptions(source=source, command=command or f"icdbench prepare {name}")
                )
        manifest = read_manifest(out)
    check_source(out, manifest, source, f"run `icdbench prepare {name} --source {source} --force` to re-prepare it")
    if manifest.get("split_version") != spec.version:
        raise UserError(
            f"{out} holds {name} version {manifest.get('split_version')}, the code expects {spec.version}; "
            f"run `icdbench prepare {name} --force`"
        )
    return _fresh_split(name, out, manifest, source)


def _fresh_split(name: str, out: Path, manifest: dict, source: Path | None) -> Path:
    """``out`` if the code that prepared it is this code's; a stale embedded (synthetic) split is generated
    again with its recorded seed; a stale split of raw files gets one line saying how to re-prepare it."""
    spec = get_split(name)
    if (reason := stale_reason(name, manifest)) is None:
        return out
    if spec.needs_source:
        where = source or "DIR"
        raise UserError(f"{out} is stale: {reason}; re-prepare it with `icdbench prepare {name} --source {where} "
                        f"--force` (DIR: {spec.needs_source})")
    print(f"note: {name} is stale ({reason}); generating it again", file=sys.stderr)
    with FileLock(str(data_dir() / f".{name}.lock")):
        if stale_reason(name, read_manifest(out)) is not None:  # another process may have regenerated it
            options = PrepareOptions(force=True, seed=int(manifest.get("seed") or 0), folds=manifest.get("folds"),
                                     command=f"icdbench prepare {name} --force")
            spec.prepare(out, options)
    return out


def fold_split_dir(split_dir: Path, name: str, fold: int | None) -> Path:
    """The folder a run loads: the split itself, or fold ``fold`` of a cross-validated split."""
    if not is_cross_validated(split_dir):
        if fold is not None:
            raise UserError(f"split {name} has fixed train/val/test parts, not folds; drop the fold option")
        return split_dir
    folds = fold_dirs(split_dir)
    if fold is None:
        raise UserError(f"split {name} is cross-validated ({len(folds)} folds); run it with "
                        f"`icdbench bench MODEL {name}` (every fold) or `--folds K`")
    if not 0 <= fold < len(folds):
        raise UserError(f"fold {fold} does not exist: {split_dir} holds folds 0..{len(folds) - 1}")
    return folds[fold]


def recorded_split_dir(split: str, fold: int | None) -> Path:
    """The prepared folder a recorded run loaded under DATA_DIR: its split, or the fold it was trained on."""
    return fold_split_dir(data_dir() / split, split, fold)


def fold_plan(split: str, asked: int | None, source: Path | None, command: str) -> list[int] | None:
    """The folds to run (the first ``asked``, default all prepared ones), or None for a split without folds.
    Raises a one-line error for folds on a plain split or more folds than are prepared."""
    if get_split(split).folds is None:
        if asked is None:
            return None
        crossed = sorted(name for name, spec in all_splits().items() if spec.folds)
        raise UserError(f"split {split} has fixed train/val/test parts, not folds; drop folds={asked} "
                        f"(cross-validated splits: {', '.join(crossed)})")
    prepared = len(fold_dirs(ensure_split(split, source, command)))
    if asked is not None and asked > prepared:
        raise UserError(f"folds={asked} but {split} is prepared with {prepared} folds; pass folds=1..{prepared}")
    return list(range(prepared if asked is None else asked))
