"""The storage contract of a prepared split (DESIGN.md §3).

A split folder holds ``train.parquet``, ``val.parquet``, ``test.parquet``, ``codes.parquet`` and
``manifest.json``. Writers build everything in a temporary sibling folder and rename it into place, so a
reader never sees a half-written split. Readers check the manifest's file hashes before trusting a split.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from icdbench.errors import UserError
from icdbench.io import atomic_directory

PARTS = ("train", "val", "test")
MANIFEST = "manifest.json"
CODES_FILE = "codes.parquet"

DOC_SCHEMA: dict[str, pl.DataType] = {
    "doc_id": pl.String,
    "subject_id": pl.String,
    "text": pl.String,
    "codes": pl.List(pl.String),
    "code_kinds": pl.List(pl.String),
}
OPTIONAL_DOC_SCHEMA: dict[str, pl.DataType] = {
    "reason_for_visit": pl.String,
    "age": pl.Float64,
    "sex": pl.String,
    "sentences": pl.List(pl.Struct({"start": pl.Int64, "end": pl.Int64})),
    "evidence": pl.List(pl.Struct({"code": pl.String, "start": pl.Int64, "end": pl.Int64})),
    "metadata": pl.List(pl.Struct({"field": pl.String, "value": pl.String})),  # structured source fields
}
CODES_SCHEMA: dict[str, pl.DataType] = {
    "code": pl.String,
    "kind": pl.String,
    "title": pl.String,
    "short_title": pl.String,
    "ancestors": pl.List(pl.String),
    "train_count": pl.Int64,
}


@dataclass(frozen=True)
class Split:
    """A prepared split loaded from disk. Parts are polars DataFrames following ``DOC_SCHEMA``."""

    path: Path
    manifest: dict
    train: pl.DataFrame
    val: pl.DataFrame
    test: pl.DataFrame
    codes: pl.DataFrame

    @property
    def name(self) -> str:
        return self.manifest["split"]

    @property
    def version(self) -> str:
        return self.manifest["split_version"]

    @property
    def code_list(self) -> list[str]:
        return self.codes["code"].to_list()

    def part(self, name: str) -> pl.DataFrame:
        return {"train": self.train, "val": self.val, "test": self.test}[name]

    @property
    def fingerprint(self) -> str:
        """A short hash identifying this split's content (used to cache word2vec, features...)."""
        return self.manifest["content_sha256"][:16]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_lines(values: list[str]) -> str:
    return hashlib.sha256("\n".join(values).encode()).hexdigest()


def _check_schema(frame: pl.DataFrame, required: dict, optional: dict, what: str) -> pl.DataFrame:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks required columns {missing}")
    allowed = {**required, **optional}
    extra = [c for c in frame.columns if c not in allowed]
    if extra:
        raise ValueError(f"{what} has columns outside the storage contract: {extra}")
    return frame.cast({c: allowed[c] for c in frame.columns}).select(
        [c for c in allowed if c in frame.columns]
    )


@contextmanager
def split_folder(out_dir: Path, manifest: dict, *, force: bool) -> Iterator[Path]:
    """An empty temporary folder beside ``out_dir`` that replaces ``out_dir`` when the block succeeds (and is
    removed when it fails). A split there with another ``split_version`` than ``manifest``'s is refused unless
    ``force``."""
    out_dir = Path(out_dir)
    existing = read_manifest(out_dir, missing_ok=True) if out_dir.exists() and not force else None
    if existing is not None and existing.get("split_version") != manifest.get("split_version"):
        raise UserError(
            f"{out_dir} holds {existing.get('split')} version {existing.get('split_version')}, "
            f"not {manifest.get('split_version')}; rerun with --force to replace it"
        )
    with ExitStack() as stack:
        try:
            tmp = stack.enter_context(atomic_directory(out_dir, replace=True))
        except OSError as exc:
            raise UserError(
                f"cannot write to {out_dir.parent} ({exc.strerror}); choose a writable --out or DATA_DIR"
            ) from exc
        yield tmp


def write_manifest(folder: Path, manifest: dict) -> None:
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def write_split(
    out_dir: Path,
    parts: dict[str, pl.DataFrame],
    codes: pl.DataFrame,
    manifest: dict,
    *,
    force: bool = False,
) -> Path:
    """Write a split atomically to ``out_dir`` and return it.

    ``manifest`` carries the caller's fields (split, split_version, source, preprocessing_version, command...);
    row counts, label-set size, id/code hashes, file hashes and ``content_sha256`` are added here.
    An existing split with another ``split_version`` is refused unless ``force``.
    """
    with split_folder(out_dir, manifest, force=force) as tmp:
        files: dict[str, str] = {}
        counts: dict[str, int] = {}
        id_hashes: dict[str, str] = {}
        for name in PARTS:
            frame = _check_schema(parts[name], DOC_SCHEMA, OPTIONAL_DOC_SCHEMA, f"{name} part")
            frame.write_parquet(tmp / f"{name}.parquet", compression="zstd", statistics=False)
            files[f"{name}.parquet"] = sha256_file(tmp / f"{name}.parquet")
            counts[name] = frame.height
            id_hashes[name] = sha256_lines(sorted(frame["doc_id"].to_list()))
        codes = _check_schema(codes, CODES_SCHEMA, {}, "codes table")
        codes.write_parquet(tmp / CODES_FILE, compression="zstd", statistics=False)
        files[CODES_FILE] = sha256_file(tmp / CODES_FILE)
        full = {
            **manifest,
            "rows": counts,
            "n_codes": codes.height,
            "doc_ids_sha256": id_hashes,
            "codes_sha256": sha256_lines(codes["code"].to_list()),
            "files": files,
            "content_sha256": sha256_lines([f"{k}:{v}" for k, v in sorted(files.items())]),
        }
        write_manifest(tmp, full)
    return Path(out_dir)


def read_manifest(split_dir: Path, *, missing_ok: bool = False) -> dict | None:
    path = Path(split_dir) / MANIFEST
    if not path.exists():
        if missing_ok:
            return None
        raise UserError(f"{split_dir} is not a prepared split (no {MANIFEST}); run `icdbench prepare SPLIT`")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UserError(f"{path} is corrupt ({exc.msg}); re-prepare the split with --force") from exc


def verify_split(split_dir: Path) -> dict:
    """Check every file against the manifest hashes; return the manifest or raise a one-line UserError."""
    split_dir = Path(split_dir)
    manifest = read_manifest(split_dir)
    for name, expected in manifest["files"].items():
        path = split_dir / name
        if not path.exists():
            raise UserError(f"{path} is missing; re-prepare the split with --force")
        if sha256_file(path) != expected:
            raise UserError(f"{path} does not match its manifest hash (corrupt or partial); re-prepare with --force")
    return manifest


def load_split(split_dir: Path, *, verify: bool = True, columns: list[str] | None = None) -> Split:
    """Load a prepared split. ``columns`` restricts the document columns read (e.g. drop ``text``)."""
    split_dir = Path(split_dir)
    manifest = verify_split(split_dir) if verify else read_manifest(split_dir)
    frames = {name: pl.read_parquet(split_dir / f"{name}.parquet", columns=columns) for name in PARTS}
    codes = pl.read_parquet(split_dir / CODES_FILE)
    return Split(path=split_dir, manifest=manifest, codes=codes, **frames)
