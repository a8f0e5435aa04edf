"""The tables ``train`` and ``bench`` print: a run's metrics (per seed or fold, with mean ± std) and the committed
board's yardstick rows for the same split and profile."""

from __future__ import annotations

import statistics

from icdbench.datasets.storage import read_manifest
from icdbench.io import format_table
from icdbench.paths import data_dir
from icdbench.results.record import RunRecord
from icdbench.results.sources import committed_records, committed_row, speed_mismatch

TABLE_METRICS = (
    ("micro_f1", "micro-F1"),
    ("macro_f1", "macro-F1"),
    ("macro_auc_roc", "AUC-ROC"),
    ("macro_auc_pr", "AUC-PR"),
    ("p@8", "P@8"),
    ("emr", "EMR"),
    ("jaccard_samples", "Jaccard"),
)


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def official_metric(split: str) -> tuple[str, str] | None:
    """``(metric key, label)`` of the split's official metric, as its manifest declares it (``official_metric``,
    e.g. CodiEsp's MAP); None when the split declares none or is not prepared."""
    declared = (read_manifest(data_dir() / split, missing_ok=True) or {}).get("official_metric")
    return (declared["key"], declared["label"]) if declared else None


def results_table(records: list[RunRecord], replicate: str = "seed", official: tuple[str, str] | None = None) -> str:
    """One row per (setting, seed) — or fold, with ``replicate="fold"`` — plus mean ± std when there are several;
    ``official`` (:func:`official_metric`) comes first."""
    columns = [*([official] if official else []), *TABLE_METRICS]
    header = ["setting", replicate, *[label for _, label in columns], "time (s)"]
    rows = []
    for setting in ("full", "top50"):
        for record in records:
            metrics = record.metrics.of(setting)
            cells = [_fmt(metrics.get(k)) for k, _ in columns]
            number = record.fold if replicate == "fold" else record.seed
            rows.append([setting, str(number), *cells, f"{record.timing.wall_seconds:.1f}"])
        if len(records) > 1:
            cells = []
            for key, _ in columns:
                values = [r.metrics.of(setting).get(key) for r in records]
                cells.append(_mean_std([v for v in values if v is not None]))
            mean_time = statistics.mean(r.timing.wall_seconds for r in records)
            rows.append([setting, "mean±std", *cells, f"{mean_time:.1f}"])
    return format_table(header, rows, numeric=set(range(2, len(header))))


YARDSTICK_MODELS = ("prior", "lr")  # the rows a newcomer compares a run with: no learning, a tuned linear model
YARDSTICK_METRICS = (("micro_f1", "micro-F1"), ("macro_auc_pr", "AUC-PR"), ("p@8", "P@8"))


def yardstick(split: str, profile: str, model: str) -> str | None:
    """The committed board's ``prior`` and ``lr`` rows (and ``model``'s own) for the same split and profile, so a
    run's numbers are read against a baseline; None when the board has none of them."""
    by_model: dict[str, list[RunRecord]] = {}
    for loaded in committed_records():
        record = loaded.record
        if record.split == split and record.profile == profile and record.model in {*YARDSTICK_MODELS, model}:
            by_model.setdefault(record.model, []).append(record)
    if not by_model:
        return None
    rows = []
    for name in sorted(by_model, key=lambda m: (m == model, m)):
        records = by_model[name]
        cells = []
        for key, _ in YARDSTICK_METRICS:
            values = [r.metrics.full.get(key) for r in records]
            cells.append(_fmt(statistics.mean(values)) if None not in values else "n/a")
        reasons = "/".join(sorted({r.stop_reason for r in records}))
        rows.append([name, str(len(records)), reasons, *cells])
    header = ["committed board", "runs", "stop reason", *[label for _, label in YARDSTICK_METRICS]]
    table = format_table(header, rows, numeric=set(range(3, len(header))))
    return f"the committed {split} board at profile {profile} (leaderboards/README.md), full label set:\n{table}"


def speed_notes(records: list[RunRecord]) -> list[str]:
    """A line for each run that cannot be read against its committed row: one of them stopped at the time budget
    and one trained more than 1.25 times faster (``speed_mismatch``), so they trained different numbers of
    epochs."""
    notes = []
    for record in records:
        found = speed_mismatch(record, committed_row(record))
        if found is not None:
            other, ratio = found
            notes.append(
                f"note: seed {record.seed} trained at {ratio:.0%} of the speed of the committed {record.model} seed "
                f"{other.seed} ({record.timing.train_docs_per_s:.2f} against {other.timing.train_docs_per_s:.2f} "
                f"documents/s, {record.epochs_run} against {other.epochs_run} epochs) and one of them stopped at the "
                "time budget: the committed row is no yardstick for this number (train.max_steps trains the same "
                "steps on any machine)"
            )
    return notes


def _mean_std(values: list[float]) -> str:
    if len(values) < 2:
        return "n/a"
    return f"{statistics.mean(values):.4f}±{statistics.stdev(values):.4f}"
