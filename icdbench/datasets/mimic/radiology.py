"""MIMIC-IV radiology reports with their admission's codes, 10 most frequent codes: ``mimic4-radiology-top10``.

The HMHAN setting (Sasikala et al. 2025): reports from ``note/radiology.csv.gz`` that belong to an admission
(an addendum, linked by ``radiology_detail``'s ``parent_note_id``, replaces its report when it repeats the
report's text, else is appended to it), labelled with every
ICD-9 and ICD-10 code of the admission, restricted to the 10 codes found on most reports (chosen over all
reports, before splitting, as the paper did), reports without one dropped. Text stays raw (the paper feeds it to
a BERT tokenizer). Age and sex come from ``hosp/patients``; the exam name and CPT code from
``radiology_detail`` are kept as structured ``metadata``. Patients are split 70/15/15 by iterative
stratification (the paper's proportions).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from icdbench.datasets.mimic import reading, schema
from icdbench.datasets.mimic.mimic4 import code_rows, detect_version, source_titles
from icdbench.datasets.mimic.pipeline import SplitOutput, assign_parts, ordered_code_lists, write_prepared
from icdbench.datasets.mimic.sources import source_dir
from icdbench.datasets.registry import PrepareOptions, register_split
from icdbench.datasets.splitting import restrict_labels
from icdbench.datasets.text import split_sentences

NAME = "mimic4-radiology-top10"
VERSION = "1.0.0"
TOP_K = 10
FRACTIONS = {"train": 0.70, "val": 0.15, "test": 0.15}
METADATA_FIELDS = ("exam_name", "cpt_code")
SENTENCES = pl.List(pl.Struct({"start": pl.Int64, "end": pl.Int64}))


def report_index(root: Path) -> pl.DataFrame:
    """Every report or addendum of an admission: note_id, report_id (the report an addendum amends), hadm_id."""
    parents = reading.collect(root, schema.M4_RADIOLOGY_DETAIL, lambda q: q.filter(
        pl.col("field_name") == "parent_note_id").select("note_id", pl.col("field_value").alias("parent")))
    notes = reading.collect(root, schema.M4_RADIOLOGY, lambda q: q.filter(
        pl.col("hadm_id").is_not_null() & pl.col("text").is_not_null()).select("note_id", "hadm_id", "note_type"))
    index = notes.join(parents, on="note_id", how="left").with_columns(
        pl.when(pl.col("note_type") == "AR").then(pl.col("parent")).otherwise(pl.col("note_id")).alias("report_id"))
    return index.filter(pl.col("report_id").is_not_null()).select("note_id", "report_id", "hadm_id")


def report_texts(root: Path, index: pl.DataFrame, patients: pl.DataFrame) -> pl.DataFrame:
    """One row per report: raw text (with its addenda), subject, age, sex."""
    notes = reading.scan(root, schema.M4_RADIOLOGY).join(index.lazy().select("note_id", "report_id"),
                                                         on="note_id", how="inner")
    reports = (
        notes.sort("report_id", pl.col("note_type") != "RR", "note_seq")
        .group_by("report_id", maintain_order=True)
        .agg(pl.col("subject_id").first(), pl.col("charttime").first(), pl.col("text").first().alias("_report"),
             pl.col("text").last().alias("_last"), pl.col("text").str.join("\n").alias("_joined"))
        .with_columns(  # an addendum that repeats the report replaces it; otherwise it is appended
            pl.when(pl.col("_last").str.contains(pl.col("_report"), literal=True)).then("_last")
            .otherwise("_joined").alias("text"))
        .join(patients.lazy(), on="subject_id", how="left")
        .select(
            pl.col("report_id").alias("doc_id"), pl.col("subject_id").cast(pl.String), "text",
            (pl.col("anchor_age") + pl.col("charttime").str.slice(0, 4).cast(pl.Int64, strict=False)
             - pl.col("anchor_year")).cast(pl.Float64).alias("age"),
            pl.col("gender").alias("sex"),
        )
    )
    with reading.reading(root, schema.M4_RADIOLOGY):
        return reports.collect(engine="streaming")


def metadata(root: Path, report_ids: pl.DataFrame) -> pl.DataFrame:
    """doc_id -> [{field, value}] for the exam name and CPT code of each report."""
    detail = reading.collect(root, schema.M4_RADIOLOGY_DETAIL, lambda q: q.filter(
        pl.col("field_name").is_in(METADATA_FIELDS)).join(report_ids.lazy(), left_on="note_id", right_on="doc_id",
                                                          how="semi"))
    return (detail.sort("note_id", "field_name", "field_ordinal")
            .group_by("note_id", maintain_order=True)
            .agg(pl.struct(pl.col("field_name").alias("field"), pl.col("field_value").alias("value")).alias("metadata"))
            .rename({"note_id": "doc_id"}))


def prepare_radiology(out_dir: Path, options: PrepareOptions) -> Path:
    root = source_dir(options, "MIMIC-IV v2.2+ and MIMIC-IV-Note", schema.MIMIC4_LAYOUT)
    patients = reading.collect(root, schema.M4_PATIENTS)
    release = detect_version(root, patients)
    index = report_index(root)
    rows = code_rows(root, [9, 10]).join(index.select("hadm_id").unique(), on="hadm_id", how="semi")
    lists, code_stats = ordered_code_lists(rows.select(pl.col("hadm_id").alias("doc_id"), "code", "kind", "seq_num"))
    reports = (index.filter(pl.col("note_id") == pl.col("report_id")).select("report_id", "hadm_id")
               .join(lists.rename({"doc_id": "hadm_id"}), on="hadm_id"))
    counts = (reports.select(pl.col("codes").list.unique()).explode("codes").group_by("codes").len()
              .sort(pl.col("len"), pl.col("codes"), descending=[True, False]))
    top = counts.head(TOP_K)["codes"].to_list()
    labelled = restrict_labels(reports.rename({"report_id": "doc_id"}), top)

    docs = report_texts(root, index.join(labelled.select(pl.col("doc_id").alias("report_id")), on="report_id",
                                         how="semi"), patients)
    docs = (docs.join(labelled.select("doc_id", "codes", "code_kinds"), on="doc_id", how="inner")
            .join(metadata(root, docs.select("doc_id")), on="doc_id", how="left")
            .with_columns(pl.col("text").map_elements(_sentences, return_dtype=SENTENCES).alias("sentences")))
    parts, assignment = assign_parts(docs, seed=options.seed, fractions=FRACTIONS)
    manifest = {
        "source": {"dataset": "MIMIC-IV", "version": release, "note_module": "MIMIC-IV-Note",
                   "files": reading.checksums(root, [schema.M4_RADIOLOGY, schema.M4_RADIOLOGY_DETAIL,
                                                     schema.M4_DIAGNOSES, schema.M4_PROCEDURES, schema.M4_PATIENTS])},
        "setting": "HMHAN (Sasikala et al. 2025): MIMIC-IV radiology reports, 10 most frequent codes",
        "preprocessing_version": "raw-1",
        "rules": {"top_k": TOP_K, "top_k_from": "all reports, before splitting (as published)",
                  "label_source": "every ICD-9/ICD-10 diagnosis and procedure code of the report's admission",
                  "code_order": "diagnoses by seq_num, then procedures by seq_num", "text": "raw"},
        "counts": {"reports_with_admission": index["report_id"].n_unique(), "reports_with_top_codes": docs.height,
                   **code_stats},
        **assignment,
        "comparable_to_published": False,
        "split_note": "the HMHAN paper published no split; parts are icdbench's seeded patient-level stratification",
    }
    out = SplitOutput(NAME, VERSION, rows.select("code", "system", "known"), manifest, source_titles(root, rows))
    return write_prepared(out_dir, parts, out, options)


def _sentences(text: str) -> list[dict]:
    return [{"start": s, "end": e} for s, e in split_sentences(text)]


@register_split(NAME, VERSION, "MIMIC-IV radiology reports with their admission's codes, 10 most frequent codes "
                "(HMHAN setting)", needs_source="MIMIC_DIR")
def prepare(out_dir: Path, options: PrepareOptions) -> Path:
    return prepare_radiology(out_dir, options)
