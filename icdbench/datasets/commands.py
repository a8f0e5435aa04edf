"""``icdbench list splits`` and ``icdbench prepare SPLIT``."""

from __future__ import annotations

import os
from pathlib import Path

from icdbench.errors import UserError
from icdbench.paths import data_dir


def _status(split_dir: Path, version: str) -> str:
    from icdbench.datasets.storage import read_manifest

    try:
        manifest = read_manifest(split_dir, missing_ok=True)
    except UserError:
        return "corrupt"
    if manifest is None:
        return "no"
    found = manifest.get("split_version")
    if found != version:
        return f"stale ({found})"
    from icdbench.datasets.registry import stale_reason

    return "stale (code)" if stale_reason(manifest.get("split", split_dir.name), manifest) else "yes"


def list_splits(args) -> int:
    """Name, version, prepared under DATA_DIR?, what source it needs, description."""
    from icdbench.datasets.registry import all_splits

    rows = [("split", "version", "prepared", "needs", "description")]
    for name, spec in sorted(all_splits().items()):
        rows.append((name, spec.version, _status(data_dir() / name, spec.version), spec.needs_source or "-",
                     spec.description))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths)) + "  " + row[4])
    print(f"\nDATA_DIR: {data_dir()}")
    return 0


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


def _command(args) -> str:
    words = ["icdbench", "prepare", args.split]
    for flag in ("out", "source", "split_ids", "evidence"):
        value = getattr(args, flag, None)
        if value is not None:
            words += [f"--{flag.replace('_', '-')}", str(value)]
    if args.seed:
        words += ["--seed", str(args.seed)]
    if args.force:
        words.append("--force")
    return " ".join(words)


def prepare(args) -> int:
    """Prepare a split (or reuse one already prepared with the same version and seed) and print its card."""
    from icdbench.datasets.registry import PrepareOptions, check_source, get_split, stale_reason
    from icdbench.datasets.storage import read_manifest, verify_split

    spec = get_split(args.split)
    out = Path(args.out) if args.out else data_dir() / spec.name
    _check_writable(out)
    existing = None if args.force or not out.is_dir() else read_manifest(out, missing_ok=True)
    same_split = existing is not None and (existing.get("split"), existing.get("split_version")) == (
        spec.name, spec.version)
    if same_split and (reason := stale_reason(spec.name, existing)):
        print(f"{out} is stale ({reason}); preparing it again")
        existing = None
    if existing is not None:
        same_version = existing.get("split_version") == spec.version
        same_seed = existing.get("seed", args.seed) == args.seed
        if existing.get("split") != spec.name or not same_version or not same_seed:
            what = (f"{existing.get('split')} version {existing.get('split_version')} seed {existing.get('seed')}")
            raise UserError(f"{out} holds {what}, not {spec.name} version {spec.version} seed {args.seed}; "
                            "rerun with --force to replace it")
        if args.folds is not None and existing.get("folds") != args.folds:
            raise UserError(f"{out} holds {existing.get('folds')} folds, not {args.folds}; rerun with --force to "
                            "replace it")
        check_source(out, existing, args.source, "rerun with --force to re-prepare it from the new folder")
        manifest = verify_split(out)
        print(f"{spec.name} version {spec.version} is already prepared at {out}; reusing it (--force rebuilds)")
        print(card_text(out, manifest))
        return 0
    if args.folds is not None and not spec.folds:
        raise UserError(f"split {spec.name} has fixed train/val/test parts, not folds; drop --folds")
    options = PrepareOptions(force=args.force, source=args.source, split_ids=args.split_ids,
                             evidence=args.evidence, seed=args.seed, folds=args.folds, command=_command(args))
    path = spec.prepare(out, options)
    print(card_text(Path(path), verify_split(Path(path))))
    return 0


def card_text(split_dir: Path, manifest: dict) -> str:
    """The statistics card: stored in the manifest by generators, otherwise computed from the parquet."""
    from icdbench.datasets.stats import format_card, split_card
    from icdbench.datasets.storage import load_split

    card = manifest.get("stats")
    if not card:
        split = load_split(split_dir, verify=False, columns=["subject_id", "codes", "text"])
        card = split_card({p: split.part(p) for p in ("train", "val", "test")}, split.codes)
    notes = [f"  {name:<17} {note}" for name, note in manifest.get("card_notes", {}).items()]
    return "\n".join([format_card(manifest["split"], manifest["split_version"], card, split_dir), *notes])
