"""Where the raw files are: ``--source``, else ``$MIMIC_DIR``; and the published split-id lists (``--split-ids``).

Published split files, for users who want the exact published documents in each part:
- Mullenbach et al. 2018 (``mimic3-full``, ``mimic3-50``): ``{train,dev,test}_{full,50}_hadm_ids.csv`` from the
  CAML repository (github.com/jamesmullenbach/caml-mimic, folder ``mimicdata/mimic3/``), one HADM_ID per line.
- Edin et al. 2023 (``mimic3-clean``, ``mimic4-icd9``, ``mimic4-icd10`` and their ``-50`` variants):
  ``mimiciii_clean_splits.feather``, ``mimiciv_icd9_split.feather``, ``mimiciv_icd10_split.feather`` from
  github.com/JoakimEdin/medical-coding-reproducibility (columns ``_id`` = hadm_id and ``split`` =
  train/val/test). CSV or parquet with the same two columns are accepted too.
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from icdbench.datasets.registry import PrepareOptions
from icdbench.errors import UserError

_PART_NAMES = {"train": "train", "dev": "val", "val": "val", "valid": "val", "test": "test"}


def source_dir(options: PrepareOptions, what: str, layout: str) -> Path:
    """``--source`` or ``$MIMIC_DIR``; a one-line error naming what is needed when neither is set."""
    if options.source is not None:
        root = Path(options.source)
    elif os.environ.get("MIMIC_DIR"):
        root = Path(os.environ["MIMIC_DIR"])
    else:
        raise UserError(f"this split needs {what}: pass --source DIR or set MIMIC_DIR (expected layout: {layout})")
    if not root.is_dir():
        raise UserError(f"source folder {root} does not exist; expected layout: {layout}")
    return root


def caml_ids(folder: Path, setting: str) -> pl.DataFrame:
    """Mullenbach et al.'s id lists for ``setting`` ("full" or "50") as (``doc_id``, ``part``)."""
    frames = []
    for name, part in (("train", "train"), ("dev", "val"), ("test", "test")):
        path = Path(folder) / f"{name}_{setting}_hadm_ids.csv"
        if not path.is_file():
            raise UserError(
                f"{path} not found; --split-ids needs train/dev/test_{setting}_hadm_ids.csv from the CAML "
                "repository (github.com/jamesmullenbach/caml-mimic, mimicdata/mimic3/)"
            )
        ids = [line.strip() for line in path.read_text().splitlines() if line.strip()]
        bad = next((i for i, v in enumerate(ids) if not v.isdigit()), None)
        if bad is not None:
            raise UserError(f"{path} line {bad + 1}: {ids[bad][:30]!r} is not an admission id (HADM_ID)")
        frames.append(pl.DataFrame({"doc_id": ids, "part": [part] * len(ids)}))
    return _unique_ids(pl.concat(frames), folder)


def edin_ids(folder: Path, stem: str) -> pl.DataFrame:
    """Edin et al.'s split file ``stem``.{feather,parquet,csv} as (``doc_id``, ``part``)."""
    candidates = [Path(folder) / f"{stem}.{ext}" for ext in ("feather", "parquet", "csv")]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        raise UserError(
            f"{candidates[0]} not found; --split-ids needs {stem}.feather from "
            "github.com/JoakimEdin/medical-coding-reproducibility (columns _id, split)"
        )
    try:
        reader = {".feather": pl.read_ipc, ".parquet": pl.read_parquet, ".csv": pl.read_csv}[path.suffix]
        frame = reader(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise UserError(f"{path} cannot be read ({str(exc).splitlines()[0]})") from exc
    missing = [c for c in ("_id", "split") if c not in frame.columns]
    if missing:
        raise UserError(f"{path} lacks column(s) {missing}; expected _id (admission id) and split")
    parts = frame["split"].cast(pl.String).str.to_lowercase()
    unknown = sorted(set(parts.drop_nulls().to_list()) - set(_PART_NAMES))
    if unknown:
        raise UserError(f"{path}: unknown split value(s) {unknown[:3]}; expected train, val, test")
    out = pl.DataFrame({"doc_id": frame["_id"].cast(pl.Int64).cast(pl.String),
                        "part": parts.replace_strict(_PART_NAMES, return_dtype=pl.String)})
    return _unique_ids(out, folder)


def _unique_ids(frame: pl.DataFrame, folder: Path) -> pl.DataFrame:
    clash = frame.group_by("doc_id").agg(pl.col("part").n_unique()).filter(pl.col("part") > 1)
    if clash.height:
        raise UserError(f"{folder}: admission {clash['doc_id'][0]} is listed in two parts; the id lists are corrupt")
    return frame.unique("doc_id", keep="first", maintain_order=True)
