"""MIMIC-III v1.4 discharge summaries: ``mimic3-clean`` (Edin et al. 2023), ``mimic3-full`` and ``mimic3-50``
(Mullenbach et al. 2018).

A document is an admission's discharge summary: its report, then its addenda by date (``NOTEEVENTS`` category
"Discharge summary", joined by newlines), cleaned (DESIGN.md §4). Codes: ``DIAGNOSES_ICD`` by ``SEQ_NUM``, then
``PROCEDURES_ICD`` by ``SEQ_NUM``, ICD-9, a code once per admission.
- ``mimic3-clean``: duplicate notes dropped, codes with >= 10 documents, admissions left without codes dropped,
  patient-level iterative stratification ~75/10/15 (or Edin et al.'s ``mimiciii_clean_splits.feather``).
- ``mimic3-full``: every code; the CAML id lists ``{train,dev,test}_full_hadm_ids.csv`` when given with
  ``--split-ids``, else a regenerated patient-level split of the same proportions (version ``-regenerated``).
- ``mimic3-50``: the 50 codes Mullenbach et al. published (written below); CAML's ``*_50_hadm_ids.csv`` or a
  regenerated split of the published proportions.
``--evidence DIR`` adds MDACE evidence spans (``icdbench.datasets.mimic.mdace``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from icdbench.datasets.mimic import mdace, reading, schema
from icdbench.datasets.mimic.cleaning import TEXT_RULES, cleaned_columns
from icdbench.datasets.mimic.labels import normalise
from icdbench.datasets.mimic.pipeline import (
    SplitOutput,
    assign_parts,
    assignment_fields,
    ordered_code_lists,
    write_prepared,
)
from icdbench.datasets.mimic.sources import caml_ids, edin_ids, source_dir
from icdbench.datasets.registry import PrepareOptions, register_split
from icdbench.datasets.splitting import restrict_labels
from icdbench.errors import UserError

VERSION = "1.0.0"
PREPROCESSING_VERSION = "mimic3-2"  # 2: sentence offsets stored
NOTE_SEPARATOR = "\n"  # between an admission's notes in the raw concatenation (MDACE offsets rely on it)

# Mullenbach et al. 2018's 50 most frequent MIMIC-III codes (CAML, TOP_50_CODES), most frequent first.
MULLENBACH_TOP50 = (
    "401.9", "38.93", "428.0", "427.31", "414.01", "96.04", "96.6", "584.9", "250.00", "96.71", "272.4", "518.81",
    "99.04", "39.61", "599.0", "530.81", "96.72", "272.0", "285.9", "88.56", "244.9", "486", "38.91", "285.1",
    "36.15", "276.2", "496", "99.15", "995.92", "V58.61", "507.0", "038.9", "88.72", "585.9", "403.90", "311",
    "305.1", "37.22", "412", "33.24", "39.95", "287.5", "410.71", "276.1", "V45.81", "424.0", "45.13", "V15.82",
    "511.9", "37.23",
)
PUBLISHED_FILES = {
    "edin": "mimiciii_clean_splits.feather (github.com/JoakimEdin/medical-coding-reproducibility)",
    "mullenbach": "the CAML id lists (github.com/jamesmullenbach/caml-mimic, mimicdata/mimic3/*_hadm_ids.csv)",
}
# Published part sizes (train, val, test), used as proportions when the split is regenerated.
MULLENBACH_SIZES = {"full": (47_719, 1_631, 3_372), "50": (8_066, 1_573, 1_729)}


@dataclass(frozen=True)
class Mimic3Split:
    setting: str  # "edin" or "mullenbach"
    top50: bool = False


SPLITS = {
    "mimic3-clean": Mimic3Split("edin"),
    "mimic3-full": Mimic3Split("mullenbach"),
    "mimic3-50": Mimic3Split("mullenbach", top50=True),
}
SETTINGS = {"edin": "Edin et al. 2023 (SIGIR), MIMIC-III clean", "mullenbach": "Mullenbach et al. 2018 (CAML)"}
LABEL_SETS = {"mimic3-clean": "codes with >= 10 documents", "mimic3-full": "every code",
              "mimic3-50": "Mullenbach et al.'s published 50 codes"}


def code_rows(root: Path) -> pl.DataFrame:
    frames = []
    for table, kind, system in ((schema.M3_DIAGNOSES, "dx", "icd9cm"), (schema.M3_PROCEDURES, "proc", "icd9proc")):
        frame = reading.collect(root, table, lambda q: q.filter(
            pl.col("ICD9_CODE").is_not_null() & pl.col("HADM_ID").is_not_null()
        ).select(pl.col("HADM_ID").alias("hadm_id"), pl.col("SEQ_NUM").alias("seq_num"),
                 pl.col("ICD9_CODE").str.strip_chars().alias("raw_code")))
        frames.append(frame.with_columns(pl.lit(kind).alias("kind"), pl.lit(system).alias("system")))
    return normalise(pl.concat(frames))


def source_titles(root: Path, rows: pl.DataFrame) -> pl.DataFrame:
    """MIMIC-III's own dictionary (long and short titles) for the codes in ``rows`` (raw_code, system)."""
    frames = []
    for table, system in ((schema.M3_D_DIAGNOSES, "icd9cm"), (schema.M3_D_PROCEDURES, "icd9proc")):
        frame = reading.collect(root, table)
        frames.append(frame.select(pl.col("ICD9_CODE").alias("raw_code"), pl.lit(system).alias("system"),
                                   pl.col("LONG_TITLE").alias("title"), pl.col("SHORT_TITLE").alias("short_title")))
    wanted = pl.concat(frames).join(rows.select("raw_code", "system").unique(), on=["raw_code", "system"], how="semi")
    return normalise(wanted).select("code", "system", "title", "short_title")


def discharge_summaries(root: Path, hadm_ids: pl.DataFrame, *, drop_duplicates: bool,
                        keep_raw: set[int]) -> tuple[pl.DataFrame, dict]:
    """One document per admission: report first, then addenda by date; raw text kept for ``keep_raw``."""
    notes = (
        reading.scan(root, schema.M3_NOTES)
        .filter((pl.col("CATEGORY") == "Discharge summary") & pl.col("HADM_ID").is_not_null()
                & pl.col("TEXT").is_not_null())
        .select(pl.col("ROW_ID").alias("row_id"), pl.col("SUBJECT_ID").alias("subject_id"),
                pl.col("HADM_ID").alias("hadm_id"), pl.col("CHARTDATE").alias("chartdate"),
                (pl.col("DESCRIPTION").str.to_lowercase() != "report").alias("_addendum"), pl.col("TEXT").alias("text"))
        .join(hadm_ids.lazy(), on="hadm_id", how="semi")
    )
    order = ("_addendum", "chartdate", "row_id")
    keep_ids = pl.Series(sorted(keep_raw), dtype=pl.Int64).implode()
    if drop_duplicates:  # the same text twice in one admission; the hash keeps the group key small
        notes = notes.group_by("hadm_id", pl.col("text").hash(7).alias("_hash")).agg(
            pl.all().sort_by(*order).first(), pl.len().alias("_copies")).drop("_hash")
    else:
        notes = notes.with_columns(pl.lit(1, pl.UInt32).alias("_copies"))
    docs = (
        notes.sort("hadm_id", *order)
        .group_by("hadm_id", maintain_order=True)
        .agg(pl.col("subject_id").first(), pl.col("text").str.join(NOTE_SEPARATOR).alias("raw"),
             pl.col("row_id").alias("row_ids"), pl.col("text").str.len_chars().alias("note_lengths"),
             (pl.col("_copies") - 1).sum().alias("_duplicates"))
        .select(
            "hadm_id", "_duplicates", pl.col("subject_id").cast(pl.String), "row_ids", "note_lengths",
            *cleaned_columns(pl.col("raw")),
            pl.when(pl.col("hadm_id").is_in(keep_ids)).then("raw").alias("raw"),
        )
    )
    with reading.reading(root, schema.M3_NOTES):
        frame = docs.collect(engine="streaming")
    counts = {"admissions_with_notes": frame.height, "notes_kept": int(frame["row_ids"].list.len().sum() or 0),
              "duplicate_notes_dropped": int(frame["_duplicates"].sum() or 0)}
    return frame.drop("_duplicates"), counts


def published_ids(split: Mimic3Split, options: PrepareOptions) -> pl.DataFrame | None:
    if options.split_ids is None:
        return None
    if split.setting == "edin":
        return edin_ids(options.split_ids, "mimiciii_clean_splits")
    return caml_ids(options.split_ids, "50" if split.top50 else "full")


def prepare_mimic3(name: str, out_dir: Path, options: PrepareOptions) -> Path:
    split = SPLITS[name]
    root = source_dir(options, "MIMIC-III v1.4", schema.MIMIC3_LAYOUT)
    annotations = mdace.read_annotations(options.evidence) if options.evidence else None
    rows = code_rows(root)
    titles = source_titles(root, rows)
    keep_raw = {int(hadm_id) for hadm_id in annotations} if annotations else set()
    notes, counts = discharge_summaries(root, rows.select("hadm_id").unique(), drop_duplicates=split.setting == "edin",
                                        keep_raw=keep_raw)
    rows = rows.join(notes.select("hadm_id"), on="hadm_id", how="semi")
    lists, code_stats = ordered_code_lists(rows.select(pl.col("hadm_id").alias("doc_id"), "code", "kind", "seq_num"),
                                           min_count=10 if split.setting == "edin" else None)
    docs = notes.rename({"hadm_id": "doc_id"}).join(lists, on="doc_id", how="inner")
    code_stats["admissions_left_without_codes"] = rows["hadm_id"].n_unique() - docs.height
    manifest: dict = {}
    if annotations is not None:
        docs, manifest["evidence"] = mdace.attach_evidence(docs, annotations, NOTE_SEPARATOR)
    docs = docs.drop("row_ids", "note_lengths", "raw").with_columns(pl.col("doc_id").cast(pl.String))

    published = published_ids(split, options)
    label_note = None
    if split.top50:
        present = set(rows["code"].unique().to_list())
        keep = [c for c in MULLENBACH_TOP50 if c in present]
        if not keep:
            raise UserError(f"none of Mullenbach et al.'s 50 codes occur in {root}; is it MIMIC-III v1.4?")
        label_note = f"{len(keep)} of the 50 published codes occur in the source"
        docs = restrict_labels(docs, keep)
    sizes = MULLENBACH_SIZES["50" if split.top50 else "full"] if split.setting == "mullenbach" else None
    fractions = dict(zip(("train", "val", "test"), (s / sum(sizes) for s in sizes))) if sizes else None
    parts, assignment = assign_parts(docs, seed=options.seed, fractions=fractions, published=published)
    manifest.update({
        "source": {"dataset": "MIMIC-III", "version": "1.4",
                   "files": reading.checksums(root, [schema.M3_NOTES, schema.M3_DIAGNOSES, schema.M3_PROCEDURES,
                                                     schema.M3_D_DIAGNOSES, schema.M3_D_PROCEDURES])},
        "setting": SETTINGS[split.setting],
        "preprocessing_version": PREPROCESSING_VERSION,
        "rules": {"min_code_count": 10 if split.setting == "edin" else None, **TEXT_RULES,
                  "label_set": LABEL_SETS[name],
                  "label_set_note": label_note, "drop_duplicate_notes": split.setting == "edin",
                  "code_order": "diagnoses by SEQ_NUM, then procedures by SEQ_NUM"},
        "counts": {**counts, **code_stats},
        **assignment_fields(assignment, PUBLISHED_FILES[split.setting]),
    })
    labels = rows.select("code", "system", "known")
    return write_prepared(out_dir, parts, SplitOutput(name, VERSION, labels, manifest, titles, cleaned=True), options)


def _register(name: str, split: Mimic3Split) -> None:
    @register_split(name, VERSION, f"MIMIC-III v1.4 discharge summaries, {SETTINGS[split.setting]}: {LABEL_SETS[name]}",
                    needs_source="MIMIC_DIR")
    def prepare(out_dir: Path, options: PrepareOptions) -> Path:
        return prepare_mimic3(name, out_dir, options)


for _name, _split in SPLITS.items():
    _register(_name, _split)
