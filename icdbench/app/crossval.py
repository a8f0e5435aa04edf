"""``icdbench bench MODEL SPLIT`` on a cross-validated split (cmc2007): one ordinary run per fold (the folds
to run: :func:`icdbench.datasets.prepared.fold_plan`), then the per-fold table with mean ± std over folds, and
the human coders' agreement with the gold on the same folds.

A fold is a complete split folder (``icdbench.datasets.public.folds``); run ``i`` loads fold ``i`` and its
record carries ``fold: i``, which leaderboards average over like seeds.
"""

from __future__ import annotations

import statistics

import polars as pl

from icdbench.app.tables import TABLE_METRICS
from icdbench.datasets.public.cmc2007 import CODERS_FILE, GOLD
from icdbench.datasets.public.folds import fold_dirs
from icdbench.errors import UserError
from icdbench.metrics.human import coder_agreement
from icdbench.paths import data_dir

FOLDS_KEY = "folds="  # the issue's ``folds=K`` form, accepted beside ``--folds K``


def _parse_count(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        raise UserError(f"folds must be a positive integer (e.g. folds=3), got {text!r}") from None
    if count < 1:
        raise UserError(f"folds must be a positive integer (e.g. folds=3), got {text!r}")
    return count


def requested_folds(option: str | None, overrides: list[str]) -> tuple[int | None, list[str]]:
    """The fold count asked for (``--folds K`` or a ``folds=K`` override; None: not asked) and the overrides
    without ``folds=K`` (it is a bench option, not a config key)."""
    given = [o[len(FOLDS_KEY):] for o in overrides if o.startswith(FOLDS_KEY)]
    rest = [o for o in overrides if not o.startswith(FOLDS_KEY)]
    values = {_parse_count(v) for v in [*given, *([option] if option is not None else [])]}
    if len(values) > 1:
        raise UserError(f"folds given twice with different values ({sorted(values)}); give it once")
    return (values.pop() if values else None), rest


def coder_table(split: str, folds: list[int]) -> tuple[list[str], list[list[str]]] | None:
    """Each company's agreement with the gold (``CMC_MAJORITY``) on every fold's test documents, mean ± std
    over the folds like the model rows; None where the split keeps no coders' labels."""
    split_dir = data_dir() / split
    if not (split_dir / CODERS_FILE).is_file():
        return None
    coders = pl.read_parquet(split_dir / CODERS_FILE)
    sets = {name: dict(zip(group["doc_id"].to_list(), group["codes"].to_list()))
            for (name,), group in coders.group_by("coder")}  # fmt: skip
    per_coder: dict[str, list[dict]] = {name: [] for name in sorted(sets) if name != GOLD}
    dirs = fold_dirs(split_dir)
    for fold in folds:
        docs = pl.read_parquet(dirs[fold] / "test.parquet", columns=["doc_id"])["doc_id"].to_list()
        gold = [sets[GOLD].get(doc) or [] for doc in docs]
        for name, rows in per_coder.items():
            rows.append(coder_agreement([sets[name].get(doc) or [] for doc in docs], gold))
    body = [[name, *[_mean_std([r.get(key) for r in rows]) for key, _ in TABLE_METRICS]]
            for name, rows in per_coder.items()]  # fmt: skip
    return ["coder vs " + GOLD, *[label for _, label in TABLE_METRICS]], body


def _mean_std(values: list) -> str:
    numbers = [v for v in values if v is not None]
    if not numbers:
        return "n/a"  # score-based keys (AUC, P@k): a coder gives sets, not scores
    if len(numbers) == 1:
        return f"{numbers[0]:.4f}"
    return f"{statistics.mean(numbers):.4f}±{statistics.stdev(numbers):.4f}"
