"""``icdbench prepare SPLIT``: prepare a split under DATA_DIR (or reuse it) and print its card."""

from __future__ import annotations

import os
from pathlib import Path

from icdbench.app.requests import PrepareRequest
from icdbench.datasets.registry import PrepareOptions, check_source, get_split, stale_reason
from icdbench.datasets.stats import format_card, split_card
from icdbench.datasets.storage import load_split, read_manifest, verify_split
from icdbench.errors import UserError
from icdbench.paths import data_dir


def _check_writable(out: Path) -> None:
    """Refuse early, before generating anything, when ``out`` cannot be written."""
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} exists and is not a directory; choose another --out")
    if out.is_dir() and any(out.iterdir()) and not (out / "manifest.json").exists():
        raise UserError(f"{out} is a non-empty directory that is not a prepared split; choose another --out")
    parent = out.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"cannot write to {out} ({parent} is not a writable directory); "
                        "choose a writable --out or DATA_DIR")


def _command(request: PrepareRequest) -> str:
    words = ["icdbench", "prepare", request.split]
    for flag, value in (("out", request.out), ("source", request.source), ("split_ids", request.split_ids),
                        ("evidence", request.evidence)):
        if value is not None:
            words += [f"--{flag.replace('_', '-')}", str(value)]
    if request.seed:
        words += ["--seed", str(request.seed)]
    if request.force:
        words.append("--force")
    return " ".join(words)


def prepare(request: PrepareRequest) -> int:
    """Prepare a split (or reuse one already prepared with the same version and seed) and print its card."""
    spec = get_split(request.split)
    out = Path(request.out) if request.out else data_dir() / spec.name
    _check_writable(out)
    existing = None if request.force or not out.is_dir() else read_manifest(out, missing_ok=True)
    same_split = existing is not None and (existing.get("split"), existing.get("split_version")) == (
        spec.name, spec.version)
    if same_split and (reason := stale_reason(spec.name, existing)):
        print(f"{out} is stale ({reason}); preparing it again")
        existing = None
    if existing is not None:
        same_version = existing.get("split_version") == spec.version
        same_seed = existing.get("seed", request.seed) == request.seed
        if existing.get("split") != spec.name or not same_version or not same_seed:
            what = (f"{existing.get('split')} version {existing.get('split_version')} seed {existing.get('seed')}")
            raise UserError(f"{out} holds {what}, not {spec.name} version {spec.version} seed {request.seed}; "
                            "rerun with --force to replace it")
        if request.folds is not None and existing.get("folds") != request.folds:
            raise UserError(f"{out} holds {existing.get('folds')} folds, not {request.folds}; rerun with --force to "
                            "replace it")
        check_source(out, existing, request.source, "rerun with --force to re-prepare it from the new folder")
        manifest = verify_split(out)
        print(f"{spec.name} version {spec.version} is already prepared at {out}; reusing it (--force rebuilds)")
        print(card_text(out, manifest))
        return 0
    if request.folds is not None and not spec.folds:
        raise UserError(f"split {spec.name} has fixed train/val/test parts, not folds; drop --folds")
    options = PrepareOptions(force=request.force, source=request.source, split_ids=request.split_ids,
                             evidence=request.evidence, seed=request.seed, folds=request.folds,
                             command=_command(request))
    path = spec.prepare(out, options)
    print(card_text(Path(path), verify_split(Path(path))))
    return 0


def card_text(split_dir: Path, manifest: dict) -> str:
    """The statistics card: stored in the manifest by generators, otherwise computed from the parquet."""
    card = manifest.get("stats")
    if not card:
        split = load_split(split_dir, verify=False, columns=["subject_id", "codes", "text"])
        card = split_card({p: split.part(p) for p in ("train", "val", "test")}, split.codes)
    notes = [f"  {name:<17} {note}" for name, note in manifest.get("card_notes", {}).items()]
    return "\n".join([format_card(manifest["split"], manifest["split_version"], card, split_dir), *notes])
