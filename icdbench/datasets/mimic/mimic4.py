"""MIMIC-IV discharge summaries: ``mimic4-icd9`` and ``mimic4-icd10`` (Edin et al. 2023) and their ``-50`` variants.

Rules (Edin et al. 2023, SIGIR): notes from ``note/discharge.csv.gz`` with duplicate texts of one admission
dropped (an admission's remaining notes are joined in ``note_seq`` order), text cleaned (DESIGN.md §4), codes
from ``hosp/diagnoses_icd`` and ``hosp/procedures_icd`` split by ``icd_version``, duplicate (admission, code)
pairs dropped, codes assigned to fewer than 10 admissions with a note dropped, admissions left without codes
dropped, patients split ~75/10/15 by iterative multi-label stratification. ``-50``: the 50 codes with most
training documents, documents without any of them dropped. Unlike the published pipeline, code order is kept.

One pass can write several of these splits (the benchmark prepares ICD-9 and ICD-10 together): the note file is
read, deduplicated and cleaned once for every admission that has a code of a requested version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from icdbench.datasets.mimic import reading, schema
from icdbench.datasets.mimic.cleaning import TEXT_RULES, cleaned_columns
from icdbench.datasets.mimic.labels import normalise
from icdbench.datasets.mimic.pipeline import (
    SplitOutput,
    assign_parts,
    assignment_fields,
    ordered_code_lists,
    restrict_to_top,
    write_prepared,
)
from icdbench.datasets.mimic.sources import edin_ids, source_dir
from icdbench.datasets.registry import PrepareOptions, register_split
from icdbench.errors import UserError

VERSION = "1.0.0"
PREPROCESSING_VERSION = "edin2023-2"  # 2: sentence offsets stored
MIN_COUNT = 10
SETTING = "Edin et al. 2023 (SIGIR), MIMIC-IV discharge summaries"
EDIN_FILES = "mimiciv_icd{9,10}_split.feather (github.com/JoakimEdin/medical-coding-reproducibility)"


@dataclass(frozen=True)
class Mimic4Split:
    icd_version: int
    top_k: int | None = None


SPLITS = {
    "mimic4-icd9": Mimic4Split(9),
    "mimic4-icd10": Mimic4Split(10),
    "mimic4-icd9-50": Mimic4Split(9, 50),
    "mimic4-icd10-50": Mimic4Split(10, 50),
}


def detect_version(root: Path, patients: pl.DataFrame) -> str:
    """The MIMIC-IV release of ``root``: "2.2" or "3.x" (v2.2 and later are supported).

    v1.x keeps patients in ``core/``: refused. A PhysioNet download path (``.../mimiciv/X.Y/``) names the release.
    Otherwise v2.2 added ``hosp/provider.csv.gz`` (absent from v2.0/2.1), and v3.x added the 2020-2022 anchor
    year group to ``hosp/patients``.
    """
    root = Path(root)
    if (root / "core").is_dir() and not (root / "hosp" / "patients.csv.gz").is_file():
        raise UserError(f"{root} is MIMIC-IV v1.x (patients in core/); icdbench supports MIMIC-IV v2.2 and later")
    parts = root.resolve().parts
    for name, release in zip(parts, parts[1:]):
        if name.lower() == "mimiciv" and re.fullmatch(r"\d+\.\d+", release):
            if tuple(int(x) for x in release.split(".")) < (2, 2):
                raise UserError(f"{root} is MIMIC-IV v{release}; icdbench supports MIMIC-IV v2.2 and later")
            return release
    groups = set(patients["anchor_year_group"].drop_nulls().unique().to_list())
    if any(group.startswith("2020") for group in groups):
        return "3.x"
    if (root / "hosp" / "provider.csv.gz").is_file():
        return "2.2"
    return "2.x (hosp/provider.csv.gz absent: v2.2 assumed, v2.0/2.1 cannot be told apart)"


def code_rows(root: Path, versions: list[int]) -> pl.DataFrame:
    """Every coded item of the requested ICD versions: hadm_id, icd_version, kind, seq_num, code, known."""
    frames = []
    for table, kind in ((schema.M4_DIAGNOSES, "dx"), (schema.M4_PROCEDURES, "proc")):
        frame = reading.collect(root, table, lambda q: q.filter(
            pl.col("icd_version").is_in(versions) & pl.col("icd_code").is_not_null() & pl.col("hadm_id").is_not_null()
        ).select("hadm_id", "icd_version", "seq_num", pl.col("icd_code").str.strip_chars().alias("raw_code")))
        frames.append(frame.with_columns(pl.lit(kind).alias("kind")))
    rows = pl.concat(frames)
    system = pl.concat_str(pl.col("icd_version").cast(pl.String), pl.col("kind"), separator=":")
    names = {f"{v}:{k}": name for (v, k), name in schema.SYSTEMS.items()}
    rows = rows.with_columns(system.replace_strict(names, return_dtype=pl.String).alias("system"))
    return normalise(rows)


def source_titles(root: Path, rows: pl.DataFrame) -> pl.DataFrame:
    """MIMIC-IV's own dictionary for the codes in ``rows`` (raw_code, system): code, system, title, short_title
    (MIMIC-IV has no short titles)."""
    frames = []
    for table, kind in ((schema.M4_D_DIAGNOSES, "dx"), (schema.M4_D_PROCEDURES, "proc")):
        frame = reading.collect(root, table, lambda q: q.filter(pl.col("icd_version").is_in([9, 10])))
        names = {v: schema.SYSTEMS[(v, kind)] for v in (9, 10)}
        frames.append(frame.select(
            pl.col("icd_code").alias("raw_code"),
            pl.col("icd_version").replace_strict(names, return_dtype=pl.String).alias("system"),
            pl.col("long_title").alias("title"),
        ))
    wanted = pl.concat(frames).join(rows.select("raw_code", "system").unique(), on=["raw_code", "system"], how="semi")
    return normalise(wanted).select("code", "system", "title", pl.lit(None, pl.String).alias("short_title"))


def discharge_notes(root: Path, hadm_ids: pl.DataFrame, patients: pl.DataFrame) -> tuple[pl.DataFrame, dict]:
    """One cleaned document per admission in ``hadm_ids``, with sentence offsets, reason for visit, age and sex.

    Each note is cleaned as it streams in, so the raw text is never held whole: cleaning the joined notes
    equals joining the cleaned notes with spaces (the newline between notes is a separator, no token spans it).
    Sentences are found per note on its raw text and shifted by the note's place in the joined text.
    A duplicate is the same raw text twice in one admission (compared by hash); the first by note_seq stays.
    """
    notes = (
        reading.scan(root, schema.M4_DISCHARGE).filter(pl.col("text").is_not_null())
        .join(hadm_ids.lazy(), on="hadm_id", how="semi")
        .select("hadm_id", "subject_id", "note_seq", "charttime", pl.col("text").hash(7).alias("_hash"),
                *cleaned_columns(pl.col("text")))
    )
    with reading.reading(root, schema.M4_DISCHARGE):
        notes = notes.collect(engine="streaming").sort("hadm_id", "note_seq")
    unique = notes.filter(pl.struct("hadm_id", "_hash").is_first_distinct())
    several = unique["hadm_id"].is_duplicated()
    joined = (unique.filter(several).group_by("hadm_id", maintain_order=True)  # few admissions have several notes
              .agg(pl.col("subject_id").first(), pl.col("charttime").min(),
                   pl.col("text").filter(pl.col("text") != "").str.join(" "),
                   pl.col("reason_for_visit").drop_nulls().first()))
    joined = joined.join(joined_sentences(unique.filter(several)), on="hadm_id", how="left")
    columns = ["hadm_id", "subject_id", "charttime", "text", "sentences", "reason_for_visit"]
    docs = pl.concat([unique.filter(~several).select(columns), joined.select(columns)]).sort("hadm_id")
    docs = docs.join(patients, on="subject_id", how="left", maintain_order="left").select(
        "hadm_id", pl.col("subject_id").cast(pl.String), "text", "sentences", "reason_for_visit",
        (pl.col("anchor_age") + pl.col("charttime").str.slice(0, 4).cast(pl.Int64, strict=False)
         - pl.col("anchor_year")).cast(pl.Float64).alias("age"),
        pl.col("gender").alias("sex"),
    )
    counts = {"admissions_with_notes": docs.height, "notes_kept": unique.height,
              "duplicate_notes_dropped": notes.height - unique.height}
    return docs, counts


def joined_sentences(notes: pl.DataFrame) -> pl.DataFrame:
    """``hadm_id`` and the sentences of its notes (in note_seq order) moved into their joined cleaned text: each
    note's offsets shift by the lengths of the non-empty notes before it plus one space after each."""
    notes = notes.filter(pl.col("text") != "")
    width = pl.col("text").str.len_chars() + 1
    shifted = (notes.with_columns((width.cum_sum() - width).over("hadm_id").alias("_shift"))
               .select("hadm_id", "_shift", pl.col("sentences").alias("s")).explode("s").drop_nulls("s")
               .select("hadm_id", pl.struct((pl.col("s").struct.field("start") + pl.col("_shift")).alias("start"),
                                            (pl.col("s").struct.field("end") + pl.col("_shift")).alias("end"))
                       .alias("sentences")))
    return shifted.group_by("hadm_id", maintain_order=True).agg("sentences")


def prepare_mimic4(requests: dict[str, Path], options: PrepareOptions) -> dict[str, Path]:
    """Prepare every split named in ``requests`` (name -> output folder) from one read of the raw files."""
    root = source_dir(options, "MIMIC-IV v2.2+ and MIMIC-IV-Note", schema.MIMIC4_LAYOUT)
    wanted = {name: SPLITS[name] for name in requests}
    versions = sorted({split.icd_version for split in wanted.values()})
    patients = reading.collect(root, schema.M4_PATIENTS)
    release = detect_version(root, patients)
    rows = code_rows(root, versions)
    titles = source_titles(root, rows)
    notes, note_counts = discharge_notes(root, rows.select("hadm_id").unique(), patients)
    files = reading.checksums(root, [schema.M4_DISCHARGE, schema.M4_DIAGNOSES, schema.M4_PROCEDURES,
                                     schema.M4_D_DIAGNOSES, schema.M4_D_PROCEDURES, schema.M4_PATIENTS])
    written = {}
    for version in versions:
        version_rows = rows.filter(pl.col("icd_version") == version).join(notes.select("hadm_id"), on="hadm_id",
                                                                         how="semi")
        lists, code_stats = ordered_code_lists(
            version_rows.select(pl.col("hadm_id").alias("doc_id"), "code", "kind", "seq_num"), min_count=MIN_COUNT
        )
        docs = notes.rename({"hadm_id": "doc_id"}).join(lists, on="doc_id", how="inner")
        code_stats["admissions_left_without_codes"] = version_rows["hadm_id"].n_unique() - docs.height
        docs = docs.with_columns(pl.col("doc_id").cast(pl.String))
        published = edin_ids(options.split_ids, f"mimiciv_icd{version}_split") if options.split_ids else None
        parts, assignment = assign_parts(docs, seed=options.seed, published=published)
        labels = version_rows.select("code", "system", "known")
        for name, split in wanted.items():
            if split.icd_version != version:
                continue
            out_parts = restrict_to_top(parts, split.top_k) if split.top_k else parts
            manifest = {
                "source": {"dataset": "MIMIC-IV", "version": release, "note_module": "MIMIC-IV-Note",
                           "files": files},
                "setting": SETTING,
                "preprocessing_version": PREPROCESSING_VERSION,
                "rules": {"icd_version": version, "min_code_count": MIN_COUNT, "top_k": split.top_k,
                          "top_k_from": "train" if split.top_k else None, **TEXT_RULES,
                          "code_order": "diagnoses by seq_num, then procedures by seq_num"},
                "counts": {**note_counts, **code_stats},
                **assignment_fields(assignment, EDIN_FILES),
            }
            out = SplitOutput(name, VERSION, labels, manifest, titles, cleaned=True)
            written[name] = write_prepared(requests[name], out_parts, out, options)
    return written


def _register(name: str, split: Mimic4Split) -> None:
    label = f"ICD-{split.icd_version}"
    size = f"{split.top_k} most frequent training codes" if split.top_k else f"codes with >= {MIN_COUNT} documents"
    description = f"MIMIC-IV discharge summaries, {label} (Edin et al. 2023): {size}"

    @register_split(name, VERSION, description, needs_source="MIMIC_DIR")
    def prepare(out_dir: Path, options: PrepareOptions) -> Path:
        return prepare_mimic4({name: out_dir}, options)[name]


for _name, _split in SPLITS.items():
    _register(_name, _split)
