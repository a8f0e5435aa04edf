"""Split preparation shared by every source: patient-level stratified splits, label-set selection, the codes
table.

Input everywhere is a document frame with at least ``doc_id``, ``subject_id``, ``codes`` (list<str>) and
``code_kinds`` (list<str>); ``evidence`` is filtered along with the codes when present.
"""

from __future__ import annotations

import numpy as np
import polars as pl

PART_FRACTIONS = {"train": 0.75, "val": 0.10, "test": 0.15}


def patient_split(docs: pl.DataFrame, *, seed: int, fractions: dict[str, float] | None = None,
                  group_col: str = "subject_id", label_col: str = "codes") -> dict[str, pl.DataFrame]:
    """Assign whole patients to parts by iterative multi-label stratification (Sechidis et al. 2011).

    Each patient is one sample whose labels are the union of its documents' codes, so no patient appears in
    two parts and every code's share of patients is close to ``fractions`` in each part. Uses the
    ``iterative-stratification`` package; deterministic in ``seed``. Document order inside a part follows
    ``docs``.
    """
    # heavy: loaded only when a split is stratified
    from iterstrat.ml_stratifiers import IterativeStratification

    fractions = fractions or PART_FRACTIONS
    groups = (docs.select(group_col, label_col).explode(label_col)
              .group_by(group_col).agg(pl.col(label_col).drop_nulls().unique())
              .sort(group_col))
    labels = sorted({c for row in groups[label_col].to_list() for c in row})
    index = {code: j for j, code in enumerate(labels)}
    matrix = np.zeros((groups.height, len(labels)), dtype=bool)
    for i, row in enumerate(groups[label_col].to_list()):
        matrix[i, [index[c] for c in row]] = True
    rng = np.random.RandomState(seed)
    order = rng.permutation(groups.height)  # the algorithm visits samples in order: shuffle first
    ratios = np.array(list(fractions.values()), dtype=float)
    folds = np.empty(groups.height, dtype=int)
    folds[order] = IterativeStratification(labels=matrix[order], r=ratios / ratios.sum(), random_state=rng)
    assignment = pl.DataFrame({group_col: groups[group_col],
                               "_part": [list(fractions)[f] for f in folds.tolist()]})
    tagged = docs.join(assignment, on=group_col, how="left", maintain_order="left")
    return {name: tagged.filter(pl.col("_part") == name).drop("_part") for name in fractions}


def code_counts(frame: pl.DataFrame, label_col: str = "codes") -> dict[str, int]:
    """Documents per code (a code listed twice in one document counts once)."""
    counts = (frame.select(pl.col(label_col).list.unique()).explode(label_col).drop_nulls()
              .group_by(label_col).len())
    return dict(zip(counts[label_col].to_list(), counts["len"].to_list()))


def top_k_codes(train: pl.DataFrame, k: int, label_col: str = "codes") -> list[str]:
    """The ``k`` codes with most training documents (ties broken by code), chosen from train only."""
    counts = code_counts(train, label_col)
    return [c for c, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:k]]


def codes_with_min_count(frame: pl.DataFrame, min_count: int, label_col: str = "codes") -> list[str]:
    """Codes occurring in at least ``min_count`` documents of ``frame``, sorted."""
    return sorted(c for c, n in code_counts(frame, label_col).items() if n >= min_count)


def restrict_labels(frame: pl.DataFrame, keep: list[str] | set[str], *, drop_empty: bool = True) -> pl.DataFrame:
    """Keep only codes in ``keep`` (order preserved) in ``codes``, ``code_kinds`` and ``evidence``; drop the
    documents left without a code when ``drop_empty``."""
    keep = sorted(set(keep))
    kept = (frame.select("doc_id", "codes", "code_kinds").with_row_index("_row")
            .explode("codes", "code_kinds")
            .filter(pl.col("codes").is_in(keep))
            .group_by("_row", maintain_order=True).agg("codes", "code_kinds"))
    out = (frame.with_row_index("_row").drop("codes", "code_kinds")
           .join(kept, on="_row", how="left", maintain_order="left").drop("_row")
           .with_columns(pl.col("codes").fill_null([]), pl.col("code_kinds").fill_null([])))
    if "evidence" in frame.columns:
        out = out.with_columns(
            pl.col("evidence").list.eval(pl.element().filter(pl.element().struct.field("code").is_in(keep))))
    if drop_empty:
        out = out.filter(pl.col("codes").list.len() > 0)
    return out.select(frame.columns)


def codes_table(codes: list[str], kinds: dict[str, str], train_counts: dict[str, int], systems: dict) -> pl.DataFrame:
    """The ``codes.parquet`` frame for a label set. ``systems`` maps kind ("dx"/"proc") to a CodeSystem."""
    rows = []
    for code in sorted(codes):
        system = systems[kinds[code]]
        rows.append({"code": code, "kind": kinds[code], "title": system.title(code) or code,
                     "short_title": system.short_title(code), "ancestors": system.ancestors(code),
                     "train_count": int(train_counts.get(code, 0))})
    schema = {"code": pl.String, "kind": pl.String, "title": pl.String, "short_title": pl.String,
              "ancestors": pl.List(pl.String), "train_count": pl.Int64}
    return pl.DataFrame(rows, schema=schema)


def code_kinds(frame: pl.DataFrame) -> dict[str, str]:
    """code -> kind from the parallel ``codes`` / ``code_kinds`` lists."""
    pairs = frame.select("codes", "code_kinds").explode("codes", "code_kinds").unique().drop_nulls()
    return dict(zip(pairs["codes"].to_list(), pairs["code_kinds"].to_list()))
