"""Leaderboard tables from run records: one row per (model, split, profile) and setting (full / top-50), with
mean ± std over seeds (or folds) and a 95% interval for each headline metric, plus size and speed.

The interval of a row with several runs is the t-interval of the mean over its seeds or folds (the training
variance); a row with one run shows that run's bootstrap interval over test documents, when the record holds
one (the test-sample variance). ``Stat.ci`` says which. Rankings of the full and top-50 settings are compared
with Kendall's tau-b (Gan et al.: top-50 rankings do not carry over to the full label set).

A row also knows why each of its runs stopped training (the record's ``stop_reason``, issue 15): a row is
*converged* only when every one of its runs is; records written before stop reasons existed read "unrecorded".
It also says when its runs used another encoder than the model's paper (the record's ``encoder.substituted``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from scipy import stats as scipy_stats

from icdbench.metrics.stats import aggregate_seeds
from icdbench.results.record import UNRECORDED, Encoder, Interval, RunRecord
from icdbench.results.sources import LoadedRecord, PlanEntry, config_key

HEADLINE: tuple[tuple[str, str], ...] = (
    ("micro_f1", "micro-F1"),
    ("macro_f1", "macro-F1"),
    ("macro_auc_roc", "AUC-ROC"),
    ("macro_auc_pr", "AUC-PR"),
    ("p@8", "P@8"),
    ("p@15", "P@15"),
    ("emr", "EMR"),
    ("jaccard_samples", "Jaccard"),
    ("jaccard_3char", "Jaccard 3-char"),
    ("primary_acc", "primary acc"),
    ("macro_f1@[1-10]", "rare macro-F1"),
    ("recall_unseen", "unseen recall"),
)
HEADLINE_KEYS = tuple(key for key, _ in HEADLINE)
# A split's official metric (the shared task's own scoring, icdbench.metrics.codiesp), full setting only: a table
# shows its column when its records have it, first among the metrics.
OFFICIAL: tuple[tuple[str, str], ...] = (("map_codiesp", "MAP (official)"),)
OFFICIAL_KEYS = tuple(key for key, _ in OFFICIAL)
# Where in the note the evidence is (issue 7): test notes with gold spans, correctly predicted codes only;
# full setting. A row without these keys (a model with no attributions, a split without spans) shows none.
EVIDENCE: tuple[tuple[str, str], ...] = (
    ("evidence_p@5", "evidence P@5"),
    ("evidence_r@5", "evidence R@5"),
    ("evidence_p@10", "evidence P@10"),
    ("evidence_r@10", "evidence R@10"),
    ("evidence_sentence_hit", "sentence hit"),
    ("evidence_span_f1_exact", "span F1 exact"),
    ("evidence_span_f1_pi", "span F1 pos.-indep."),
)
EVIDENCE_KEYS = tuple(key for key, _ in EVIDENCE)
TABLE_KEYS = HEADLINE_KEYS + OFFICIAL_KEYS + EVIDENCE_KEYS  # what a row aggregates over its runs
SETTINGS = ("full", "top50")
RANK_KEY = "micro_f1"  # the order of rows in rendered tables
# Why a run stopped (record field ``stop_reason``), in the order joined reasons are listed. "unrecorded": a record
# from before the field existed; it is not counted as converged, since nothing says it was.
CONVERGED = "converged"
STOP_REASONS = (CONVERGED, "budget", "prior", "collapse", UNRECORDED)


@dataclass(frozen=True)
class Stat:
    mean: float | None
    std: float | None  # sample std over runs (None with one run)
    low: float | None  # 95% interval
    high: float | None
    n: int
    ci: str | None  # "seeds" (t-interval over runs), "bootstrap" (over test documents) or None


@dataclass
class Row:
    split: str
    profile: str
    model: str
    config_hash: str = ""
    label: str = ""  # the model name, plus the config hash when one model has several configs on this table
    registered: bool = True
    replicates: list[tuple[str, int]] = field(default_factory=list)  # ("seed", 0), ("fold", 3), ...
    split_version: str = ""
    split_hash: str = ""
    suite_versions: list[str] = field(default_factory=list)
    git_commits: list[str] = field(default_factory=list)
    stats: dict[str, dict[str, Stat]] = field(default_factory=dict)  # setting -> key -> Stat
    n_parameters: int | None = None
    train_seconds: float | None = None  # mean wall time of the runs (training, scoring, evaluation)
    inference_ms_per_doc: float | None = None
    records: list[LoadedRecord] = field(default_factory=list, repr=False)
    stop_reasons: list[str] = field(default_factory=list)  # one per run, in the order of ``replicates``
    budget_ended: list[bool] = field(default_factory=list)  # per run: a budget (not patience) ended its training
    encoder_substituted: str = ""  # "minilm for roberta-pm-m3-voc" when a run used another than the published one

    @property
    def n_runs(self) -> int:
        return len(self.replicates)

    @property
    def converged(self) -> bool:
        """Every run of the row converged (False for a row without runs: nothing converged)."""
        return bool(self.stop_reasons) and all(reason == CONVERGED for reason in self.stop_reasons)

    @property
    def stop_reason(self) -> str:
        """The distinct reasons of the row's runs joined with "/" ("converged/budget"); "" without runs."""
        return "/".join(sorted(set(self.stop_reasons), key=stop_reason_order))

    def value(self, setting: str, key: str) -> float | None:
        stat = self.stats.get(setting, {}).get(key)
        return None if stat is None else stat.mean


@dataclass
class Table:
    split: str
    profile: str
    rows: list[Row]
    tau: dict[str, tuple[float, float, int] | None]  # key -> (Kendall tau-b, p, models) full vs top-50
    excluded: tuple[str, ...] = ()  # registered models the committed plan leaves out of this table

    def official(self, setting: str) -> tuple[tuple[str, str], ...]:
        """The official metrics some row of this table has in ``setting``."""
        return tuple((key, label) for key, label in OFFICIAL if any(row.value(setting, key) is not None
                                                                    for row in self.rows))  # fmt: skip


def _finite(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def encoder_substitution(records: list[RunRecord]) -> str:
    """"USED for PUBLISHED" for every distinct substitution among the runs (joined with "; "), else ""."""
    blocks = [encoder_block(r) for r in records]
    pairs = sorted({(str(b.name), str(b.published)) for b in blocks if b.substituted})
    return "; ".join(f"{used} for {published}" for used, published in pairs)


def encoder_block(record: RunRecord) -> Encoder:
    """The record's ``encoder`` block. Records made before it existed (0.2.0) name their encoder only in their
    config: it counts as substituted when it is not the model's published one (its default today)."""
    if record.encoder is not None:
        return record.encoder
    used = (record.config.get("model") or {}).get("encoder")
    if not used:
        return Encoder()
    from icdbench.models.registry import get_model  # the registry loads every model file: only for old records

    published = vars(get_model(record.model).default_config()).get("encoder")
    return Encoder(name=used, published=published, substituted=used != published)


def stop_reason_order(reason: str) -> tuple[int, str]:
    """Known reasons in ``STOP_REASONS`` order, then any other (from a newer suite) by name."""
    return (STOP_REASONS.index(reason), "") if reason in STOP_REASONS else (len(STOP_REASONS), reason)


def _stats(records: list[RunRecord], setting: str) -> dict[str, Stat]:
    reports = [r.metrics.of(setting) for r in records]
    if not any(reports):
        return {}
    if len(records) > 1:
        agg = aggregate_seeds([{k: report.get(k) for k in TABLE_KEYS} for report in reports])
        out = {}
        for key in TABLE_KEYS:
            a = agg.get(key, {})
            n = int(a.get("n", 0))
            out[key] = Stat(_finite(a.get("mean")), _finite(a.get("std")), _finite(a.get("low")),
                            _finite(a.get("high")), n, "seeds" if n > 1 else None)  # fmt: skip
        return out
    report, ci = reports[0], records[0].ci.of(setting)
    out = {}
    for key in TABLE_KEYS:
        value = _finite(report.get(key))
        interval = ci.get(key) or Interval()
        low, high = _finite(interval.low), _finite(interval.high)
        has_ci = value is not None and low is not None and high is not None
        out[key] = Stat(value, None, low if has_ci else None, high if has_ci else None,
                        int(value is not None), "bootstrap" if has_ci else None)  # fmt: skip
    return out


def _mean(values) -> float | None:
    numbers = [float(v) for v in values if _finite(v) is not None]
    return sum(numbers) / len(numbers) if numbers else None


def _latest_per_replicate(records: list[LoadedRecord]) -> list[LoadedRecord]:
    """One record per seed/fold: a re-run replaces the older run (run ids start with their time stamp)."""
    chosen: dict[tuple[str, int], LoadedRecord] = {}
    for loaded in sorted(records, key=lambda r: (r.record.run_id, str(r.path))):
        chosen[loaded.replicate] = loaded
    return [chosen[k] for k in sorted(chosen)]


def build_row(records: list[LoadedRecord], registered: bool = True) -> Row:
    records = _latest_per_replicate(records)
    raw = [loaded.record for loaded in records]
    first = raw[0]
    hashes = sorted({r.split_hashes.content_sha256 or "" for r in raw})
    counts = sorted({r.n_parameters for r in raw if r.n_parameters is not None})
    return Row(
        split=first.split,
        profile=str(first.profile),
        model=first.model,
        config_hash=config_key(first),
        label=first.model,
        registered=registered,
        replicates=[loaded.replicate for loaded in records],
        split_version=" / ".join(sorted({str(r.split_version or "") for r in raw})),
        split_hash=" / ".join(h[:12] for h in hashes),
        suite_versions=sorted({str(r.suite_version) for r in raw}),
        git_commits=sorted({(r.provenance.git_commit or "")[:10] for r in raw} - {""}),
        stats={setting: _stats(raw, setting) for setting in SETTINGS},
        n_parameters=counts[-1] if counts else None,
        train_seconds=_mean(r.timing.wall_seconds for r in raw),
        inference_ms_per_doc=_mean(r.timing.inference_ms_per_doc for r in raw),
        records=records,
        stop_reasons=[r.stop_reason for r in raw],
        budget_ended=[r.convergence.budget_hit is not None for r in raw],
        encoder_substituted=encoder_substitution(raw),
    )


def kendall_tau(rows: list[Row], key: str) -> tuple[float, float, int] | None:
    """Kendall tau-b between the models' full and top-50 values of ``key`` (needs 3 models with both)."""
    pairs = [(row.value("full", key), row.value("top50", key)) for row in rows]
    pairs = [(a, b) for a, b in pairs if a is not None and b is not None]
    if len(pairs) < 3:
        return None
    result = scipy_stats.kendalltau([a for a, _ in pairs], [b for _, b in pairs])
    tau, p = float(result.statistic), float(result.pvalue)
    return (tau, p, len(pairs)) if math.isfinite(tau) else None


def _table(split: str, profile: str, rows: list[Row], excluded: tuple[str, ...] = ()) -> Table:
    return Table(split, profile, rows, {key: kendall_tau(rows, key) for key in HEADLINE_KEYS}, excluded)


def converged_only(tables: list[Table]) -> tuple[list[Table], list[Row]]:
    """The tables without the rows that have runs not all converged, and those rows. Rows without runs stay (they
    show no number, and keep every registered model listed); Kendall tau is recomputed over the rows kept."""
    kept_tables, hidden = [], []
    for table in tables:
        kept = []
        for row in table.rows:
            (kept if row.converged or not row.replicates else hidden).append(row)
        kept_tables.append(_table(table.split, table.profile, kept, table.excluded))
    return kept_tables, hidden


def _sort_key(row: Row):
    value = row.value("full", RANK_KEY)
    return (value is None, -(value or 0.0), row.label)


def build_tables(
    records: list[LoadedRecord], registered: list[str], plan: tuple[PlanEntry, ...] = ()
) -> list[Table]:
    """Tables per (split, profile), sorted by split then profile; rows by full-setting micro-F1.

    Every (split, profile) of ``plan`` gets a row for every registered model it does not exclude, empty when it
    has no record yet.
    """
    groups: dict[tuple[str, str, str, str], list[LoadedRecord]] = defaultdict(list)
    for loaded in records:
        r = loaded.record
        groups[(r.split, str(r.profile), r.model, config_key(r))].append(loaded)
    by_table: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for (split, profile, model, _), members in groups.items():
        by_table[(split, profile)].append(build_row(members, registered=model in registered))
    excluded: dict[tuple[str, str], tuple[str, ...]] = {}
    for entry in plan:
        rows = by_table[(entry.split, entry.profile)]
        present = {row.model for row in rows}
        rows.extend(Row(entry.split, entry.profile, m, label=m) for m in registered
                    if m not in present and m not in entry.excluded)  # fmt: skip
        excluded[(entry.split, entry.profile)] = tuple(m for m in registered if m in entry.excluded)
    tables = []
    for (split, profile), rows in sorted(by_table.items()):
        per_model = defaultdict(int)
        for row in rows:
            per_model[row.model] += 1
        for row in rows:
            if per_model[row.model] > 1:
                row.label = f"{row.model} [{row.config_hash[:7]}]"
        rows.sort(key=_sort_key)
        tables.append(_table(split, profile, rows, excluded.get((split, profile), ())))
    return tables
