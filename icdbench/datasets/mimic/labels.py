"""Codes of a prepared real-data split: canonical forms, the codes the tables do not know, the codes table.

Raw sources write codes their own way (MIMIC undotted, CodiEsp lower case). Each distinct (raw code, system)
pair is normalised once through ``icdbench.codes`` and joined back, so millions of code rows cost a few thousand
Python calls. Codes the tables do not know are kept, counted and reported, never dropped.
"""

from __future__ import annotations

import logging

import polars as pl

from icdbench.codes import get_system
from icdbench.datasets.splitting import codes_table

log = logging.getLogger(__name__)

KIND_RANK = {"dx": 0, "proc": 1}


def normalise(frame: pl.DataFrame, raw: str = "raw_code", system: str = "system") -> pl.DataFrame:
    """Add ``code`` (canonical form) and ``known`` (listed in the code tables) to every row of ``frame``."""
    pairs = frame.select(raw, system).unique().drop_nulls()
    rows = []
    for raw_code, name in pairs.iter_rows():
        table = get_system(name)
        code = table.normalize(raw_code)
        rows.append((raw_code, name, code, table.is_valid(code)))
    mapping = pl.DataFrame(
        rows, schema={raw: pl.String, system: pl.String, "code": pl.String, "known": pl.Boolean}, orient="row"
    )
    return frame.join(mapping, on=[raw, system], how="left")


def unknown_report(labels: pl.DataFrame, split: str) -> dict:
    """``{"count", "examples"}`` for label codes absent from the code tables (``labels``: ``code``, ``known``)."""
    unknown = sorted(labels.filter(~pl.col("known"))["code"].unique().to_list())
    if unknown:
        log.warning("%s: %d code(s) unknown to the code tables kept (e.g. %s); see the manifest's unknown_codes",
                    split, len(unknown), ", ".join(unknown[:5]))
    return {"count": len(unknown), "examples": unknown[:20]}


def build_codes_table(labels: pl.DataFrame, train_counts: dict[str, int], titles: pl.DataFrame | None = None):
    """The ``codes.parquet`` frame: dx codes first, then procedures, each sorted by code.

    ``labels``: one row per label with ``code`` and ``system``. ``titles`` (the source's own dictionary, e.g.
    MIMIC's ``d_icd_diagnoses``): ``code``, ``system``, ``title``, ``short_title``; where it has a title it wins
    over the package tables, which fill the gaps (and the hierarchy).
    """
    if labels["code"].n_unique() != labels.height:
        clashes = labels.filter(pl.col("code").is_duplicated())["code"].unique().to_list()
        raise ValueError(f"codes {clashes[:5]} appear in two code systems of one label set")
    frames = []
    for (name,), group in labels.group_by("system"):
        table = get_system(name)
        codes = group["code"].to_list()
        frames.append(codes_table(codes, dict.fromkeys(codes, table.kind), train_counts, {table.kind: table}))
    table = pl.concat(frames)
    if titles is not None:
        own = titles.join(labels.select("code", "system"), on=["code", "system"], how="semi")
        table = (
            table.join(own.select("code", pl.col("title").alias("_t"), pl.col("short_title").alias("_s")),
                       on="code", how="left")
            .with_columns(pl.coalesce("_t", "title").alias("title"),
                          pl.coalesce("_s", "short_title").alias("short_title"))
            .drop("_t", "_s")
        )
    return table.sort(pl.col("kind").replace_strict(KIND_RANK, return_dtype=pl.Int8), "code")
