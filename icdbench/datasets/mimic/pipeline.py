"""The steps every real-data split shares: ordered code lists, part assignment, the label set, writing.

Code lists keep the source's sequence (diagnoses by ``seq_num``, i.e. by priority, then procedures by
``seq_num``) — published pipelines sort or shuffle them away; sequence metrics need them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from icdbench.datasets.mimic.labels import KIND_RANK, build_codes_table, unknown_report
from icdbench.datasets.mimic.stratify import patient_split
from icdbench.datasets.registry import PrepareOptions
from icdbench.datasets.splitting import PART_FRACTIONS, code_counts, restrict_labels, top_k_codes
from icdbench.datasets.stats import split_card
from icdbench.datasets.storage import PARTS, write_split
from icdbench.errors import UserError

DOC_COLUMNS = ("doc_id", "subject_id", "text", "codes", "code_kinds")


def ordered_code_lists(rows: pl.DataFrame, *, min_count: int | None = None) -> tuple[pl.DataFrame, dict]:
    """Per-document code lists in sequence order, with the published cleaning rules applied.

    ``rows``: one row per coded item with ``doc_id``, ``code`` (canonical), ``kind`` (dx/proc), ``seq_num``.
    Duplicate (document, code) pairs keep their first position; with ``min_count``, codes assigned to fewer
    documents are removed (Edin et al. count over the documents that have a note, so pass only those rows);
    documents left without codes do not appear. Returns (``doc_id``, ``codes``, ``code_kinds``) and counts.
    """
    ordered = rows.sort(
        "doc_id", pl.col("kind").replace_strict(KIND_RANK, return_dtype=pl.Int8), "seq_num", nulls_last=True
    )
    unique = ordered.unique(["doc_id", "code"], keep="first", maintain_order=True)
    stats = {"code_rows": rows.height, "duplicate_code_rows_dropped": rows.height - unique.height}
    if min_count:
        counts = unique.group_by("code").len()
        kept = counts.filter(pl.col("len") >= min_count)
        stats["codes_below_min_count"] = counts.height - kept.height
        stats["code_rows_below_min_count"] = int(counts.filter(pl.col("len") < min_count)["len"].sum())
        unique = unique.join(kept.select("code"), on="code", how="semi")
    lists = unique.group_by("doc_id", maintain_order=True).agg(
        pl.col("code").alias("codes"), pl.col("kind").alias("code_kinds")
    )
    return lists, stats


def assign_parts(docs: pl.DataFrame, *, seed: int, fractions: dict[str, float] | None = None,
                 published: pl.DataFrame | None = None) -> tuple[dict[str, pl.DataFrame], dict]:
    """Split ``docs`` into train/val/test: the published assignment (``doc_id``, ``part``) when given, else a
    patient-level iterative stratification with ``fractions`` (default ~75/10/15; the sparse implementation,
    identical in result to ``splitting.patient_split`` and fast at MIMIC scale)."""
    if published is None:
        parts = patient_split(docs.sort("doc_id"), seed=seed, fractions=fractions or PART_FRACTIONS)
        return parts, {"split_assignment": "regenerated", "split_fractions": fractions or PART_FRACTIONS}
    tagged = docs.join(published, on="doc_id", how="left")
    info = {
        "split_assignment": "published",
        "published_ids_not_in_data": published.join(docs, on="doc_id", how="anti").height,
        "docs_not_in_published_ids": tagged["part"].null_count(),
    }
    tagged = tagged.filter(pl.col("part").is_not_null())
    parts = {p: tagged.filter(pl.col("part") == p).drop("part").sort("doc_id") for p in PARTS}
    if any(parts[p].is_empty() for p in PARTS):
        raise UserError("the published split ids match no document in one part; are they for this dataset?")
    return parts, info


def restrict_to_top(parts: dict[str, pl.DataFrame], k: int, codes: list[str] | None = None):
    """Keep the ``k`` most frequent training codes (or the given ``codes``); drop documents left without one."""
    keep = codes if codes is not None else top_k_codes(parts["train"], k)
    return {p: restrict_labels(parts[p], keep) for p in PARTS}, keep


@dataclass
class SplitOutput:
    """Everything ``write_prepared`` needs besides the parts."""

    name: str
    version: str
    labels: pl.DataFrame  # code, system, known — one row per code seen in the source
    manifest: dict = field(default_factory=dict)
    titles: pl.DataFrame | None = None  # code, system, title, short_title from the source's own dictionary


def write_prepared(out_dir: Path, parts: dict[str, pl.DataFrame], out: SplitOutput, options: PrepareOptions):
    """Build the codes table of the codes in ``parts``, the statistics card and the manifest; write atomically."""
    present = sorted(set().union(*(set(code_counts(parts[p])) for p in PARTS)))
    labels = out.labels.unique("code", keep="first").filter(pl.col("code").is_in(present))
    codes = build_codes_table(labels.select("code", "system"), code_counts(parts["train"]), out.titles)
    frames = {p: parts[p].select([c for c in parts[p].columns if c != "part"]) for p in PARTS}
    manifest = {
        "split": out.name,
        "split_version": out.version,
        "command": options.command,
        "seed": options.seed,
        **out.manifest,
        "unknown_codes": unknown_report(labels, out.name),
        "stats": split_card(frames, codes),
    }
    return write_split(out_dir, frames, codes, manifest, force=options.force)
