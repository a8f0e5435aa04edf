"""``icdbench regress`` (``make regress``): re-run every registered model at the ci profile on synth-tiny, plus
``lr`` cross-validated over the folds of a CMC 2007-format file (the synthetic stand-in of
``icdbench.datasets.synthetic.cmc_shaped``, so the fold path is checked too), plus ``lr`` on ``codiesp-d-en``
(real clinical text, prepared from ``../shared/data/codiesp`` or ``$CODIESP_SOURCE``; skipped with one line where
the corpus is absent, as on a clean CI clone), and compare every headline metric, in both settings, with
``leaderboards/ci.csv``.

Each model runs in a fresh process with one torch thread (so a row equals what ``icdbench bench MODEL
synth-tiny --profile ci --seeds 0`` gives with ``OMP_NUM_THREADS=1``), as many processes at a time as there are
cores, on a freshly prepared synth-tiny in a scratch DATA_DIR (as on a clean CI clone). Tolerance — the
numbers come from fixed seeds and deterministic algorithms:

* same machine fingerprint (numeric library versions, torch's vector instruction set, CPU model and flags,
  torch threads) as the row in ci.csv: the runs repeat bit for bit (measured: two runs, 440 of 440 numbers
  equal), so any difference is drift; ``SAME_MACHINE_ATOL`` = 1e-6 only absorbs printing;
* another fingerprint: other rounding reorders the near-tied scores of the barely trained ci models on
  synth-tiny's 59 test documents, and for a few models sends training down another path — as if another seed
  had been drawn. Two checks admit that and still catch what can be caught (see the constants' comments):
  every number within ``CROSS_MACHINE_ATOL``, and each metric's mean change over all rows within
  ``CROSS_MACHINE_MEAN_ATOL`` — rounding moves a few models either way, a broken metric or shared component
  moves them all one way. The neural ci models score near chance (macro AUC-ROC 0.44-0.55), so on another
  machine a regression confined to one of them is not detectable; the exact check on the machine ci.csv was
  made on is the one that sees it.

It fails (exit 1) on drift, on a registered model missing from ci.csv or failing to run, and on a model in
ci.csv that is no longer registered. ``--update`` rewrites ci.csv from the fresh runs (say why in CHANGELOG).

This module is the comparison (rows, fingerprints, tolerances); :mod:`icdbench.app.regress` runs the grid.
"""

from __future__ import annotations

import hashlib
import math
import os
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import torch

from icdbench.io import format_table
from icdbench.paths import REPO_ROOT
from icdbench.results.leaderboard import HEADLINE_KEYS, SETTINGS
from icdbench.results.locking import csv_text, read_csv, write_text
from icdbench.results.record import RunRecord

CI_FILE = "ci.csv"
SPLIT = "synth-tiny"
PROFILE = "ci"
SEED = 0
THREADS = 1  # torch threads per run: the numbers then do not depend on how many cores a machine has
SAME_MACHINE_ATOL = 1e-6
# Measured on one CPU (all 20 models, same code and data): 1 vs 2 torch threads moved 64 of 440 numbers, most
# by < 0.01, up to 0.028 (macro AUC-ROC) and 0.106 (top-50 primary-code accuracy of rac-notitles, 6 of 55
# documents); AVX2 instead of AVX-512 kernels (ATEN_CPU_CAPABILITY=avx2) moved 58, 14 models not at all, up to
# 0.062 (macro AUC-ROC of rac-notitles, which trained down another path). 0.15 admits that with a margin and
# catches a model whose numbers jump (e.g. lr or svm, macro AUC-ROC ~0.8, falling to chance).
CROSS_MACHINE_ATOL = 0.15
# Mean change of one metric over all rows compared across machines (40 with 20 models): rounding noise has either
# sign and hits few models, measured at most 0.002 (AVX2: macro AUC-ROC); a metric or shared-pipeline bug moves
# every model the same way, and a shift of 0.01 on all of them is caught.
CROSS_MACHINE_MEAN_ATOL = 0.01
MEAN_MIN_ROWS = 20  # below that, one model that trained down another path could move the mean on its own
ID_FIELDS = ("model", "split", "fold", "setting")
FOLD_MODEL, FOLD_SPLIT = "lr", "cmc2007"  # the cross-validated job: every fold of the CMC-format file
FOLD_JOB = f"{FOLD_MODEL}@{FOLD_SPLIT}"
CMC_DOCS = 200
# Real clinical text (issue 17), not redistributed: where the corpus is absent the job and its rows are skipped.
CODIESP_MODEL, CODIESP_SPLIT = "lr", "codiesp-d-en"
CODIESP_JOB = f"{CODIESP_MODEL}@{CODIESP_SPLIT}"
CODIESP_ENV = "CODIESP_SOURCE"  # where the CodiEsp v4 folder is, when not at ../shared/data/codiesp
INFO_FIELDS = ("profile", "seed", "split_version", "split_hash", "config_hash", "suite_version", "fingerprint")
FIELDS = (*ID_FIELDS, *HEADLINE_KEYS, *INFO_FIELDS)


# Libraries whose arithmetic is in the ci numbers (torch is listed first, with its vector instruction set); the
# others are not pinned, so a clean CI install may get newer ones.
NUMERIC_LIBRARIES = ("numpy", "scipy", "scikit-learn", "gensim", "transformers")


def cpu_model() -> str:
    """CPU model name plus a short hash of its feature flags: a virtual machine may report a bare "AMD EPYC"
    for several generations, with and without AVX-512."""
    name, flags = "", ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and not name:
                name = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = " ".join(sorted(line.split(":", 1)[1].split()))
    except OSError:
        pass
    name = name or platform.processor() or platform.machine()
    return f"{name} (flags {hashlib.sha256(flags.encode()).hexdigest()[:8]})" if flags else name


def machine_fingerprint(threads: int = THREADS) -> str:
    """What decides whether two runs can agree bit for bit: the numeric libraries' versions, the vector
    instructions torch uses, the CPU and the intra-op threads."""
    versions = "; ".join(f"{name} {metadata.version(name)}" for name in NUMERIC_LIBRARIES)
    return (f"torch {torch.__version__} {torch.backends.cpu.get_cpu_capability()}; {versions}; {cpu_model()}; "
            f"{threads} thread{'s' if threads > 1 else ''}")  # fmt: skip


def _cell(value) -> str:
    if value is None:
        return ""
    value = float(value)
    return repr(value) if math.isfinite(value) else ""


def rows_of_record(record: RunRecord, fingerprint: str) -> list[dict]:
    """ci.csv rows of one run: one per setting, every headline metric at full precision."""
    rows = []
    for setting in SETTINGS:
        metrics = record.metrics.of(setting)
        rows.append({
            "model": record.model, "split": record.split, "fold": _text(record.fold), "setting": setting,
            **{key: _cell(metrics.get(key)) for key in HEADLINE_KEYS},
            "profile": record.profile, "seed": record.seed, "split_version": record.split_version,
            "split_hash": (record.split_hashes.content_sha256 or "")[:12],
            "config_hash": (record.config_hash or "")[:12],
            "suite_version": record.suite_version,
            "fingerprint": fingerprint,
        })  # fmt: skip
    return rows


def _text(value) -> str:
    return "" if value is None else str(value)


def _job_of(row: dict) -> str:
    """The regress job that makes a ci.csv row (the key of ``failed``)."""
    return job_of(row.get("split"), row["model"])


def row_id(row: dict) -> tuple[str, ...]:
    return tuple(str(row.get(field) or "") for field in ID_FIELDS)


@dataclass(frozen=True)
class Difference:
    row: tuple[str, ...]  # model, split, fold, setting
    key: str
    expected: float | None
    actual: float | None
    tolerance: float

    @property
    def delta(self) -> float | None:
        if self.expected is None or self.actual is None:
            return None
        return self.actual - self.expected

    @property
    def drift(self) -> bool:
        if self.expected is None or self.actual is None:
            return (self.expected is None) != (self.actual is None)
        return abs(self.actual - self.expected) > self.tolerance


@dataclass
class Comparison:
    differences: list[Difference]  # every number that changed at all
    problems: list[str]  # missing / removed models, failed runs, changed split versions
    n_compared: int

    @property
    def ok(self) -> bool:
        return not self.problems and not any(d.drift for d in self.differences)


def _float(text: str | None) -> float | None:
    return float(text) if text not in (None, "") else None


def compare_rows(expected: list[dict], actual: list[dict], registered: list[str], fingerprint: str,
                 failed: dict[str, str] | None = None,
                 skipped: frozenset[str] = frozenset()) -> Comparison:  # fmt: skip
    """Compare fresh ``actual`` rows with ``expected`` (ci.csv) rows; pure, so tests perturb a copy. The rows of
    ``skipped`` jobs (their input is absent on this machine) are not compared."""
    problems = [f"{model}: the run failed ({reason})" for model, reason in sorted((failed or {}).items())]
    in_expected = {row["model"] for row in expected}
    for model in registered:
        if model not in in_expected:
            problems.append(f"{model}: registered but missing from {CI_FILE} (make regress UPDATE=1, with a "
                            "CHANGELOG line)")  # fmt: skip
    for model in sorted(in_expected - set(registered)):
        problems.append(f"{model}: in {CI_FILE} but no longer registered (make regress UPDATE=1 to drop it)")
    fresh = {row_id(row): row for row in actual}
    expected_ids = {row_id(row) for row in expected}
    unlisted = sorted({_job_of(row) for row in actual
                       if row_id(row) not in expected_ids and row["model"] in in_expected})  # fmt: skip
    problems += [f"{job}: fresh results with no row in {CI_FILE} (make regress UPDATE=1, with a CHANGELOG line)"
                 for job in unlisted]  # fmt: skip
    differences, compared, splits_changed, cross_deltas = [], 0, {}, {}
    for old in expected:
        if old["model"] not in registered or (failed and _job_of(old) in failed) or _job_of(old) in skipped:
            continue
        new = fresh.get(row_id(old))
        if new is None:
            problems.append(f"{' / '.join(x for x in row_id(old) if x)}: no fresh result for this row")
            continue
        before, now = (tuple(str(row.get(f) or "") for f in ("split_version", "split_hash")) for row in (old, new))
        if before != now:  # the numbers are not comparable: say so once per split, not per row
            splits_changed[(old["split"], before, now)] = None
        same_machine = old.get("fingerprint") == fingerprint
        tolerance = SAME_MACHINE_ATOL if same_machine else CROSS_MACHINE_ATOL
        for key in HEADLINE_KEYS:
            compared += 1
            a, b = _float(old.get(key)), _float(new.get(key))
            if a != b:
                differences.append(Difference(row_id(old), key, a, b, tolerance))
            if not same_machine and a is not None and b is not None:
                cross_deltas.setdefault(key, []).append(b - a)
    for key, deltas in cross_deltas.items():
        mean = sum(deltas) / len(deltas)
        if len(deltas) >= MEAN_MIN_ROWS and abs(mean) > CROSS_MACHINE_MEAN_ATOL:
            problems.append(f"{key}: changed by {mean:+.4f} on average over the {len(deltas)} rows made on another "
                            f"machine (limit {CROSS_MACHINE_MEAN_ATOL}): rounding moves a few models either way, "
                            "this moves them together")  # fmt: skip
    for split, (version_a, hash_a), (version_b, hash_b) in splits_changed:
        why = ("a version bump needs make regress UPDATE=1" if version_a != version_b else
               "same version, other content: its generator or preparation changed without a version bump")
        problems.append(f"{split}: {CI_FILE} was made on version {version_a} (content {hash_a}), this run on "
                        f"{version_b} (content {hash_b}); {why}")  # fmt: skip
    return Comparison(differences, problems, compared)


def diff_table(comparison: Comparison) -> str:
    lines = []
    if comparison.differences:
        rows = []
        for d in sorted(comparison.differences, key=lambda d: (not d.drift, d.row, d.key)):
            delta = "n/a" if d.delta is None else f"{d.delta:+.2e}"
            rows.append([" / ".join(x for x in d.row if x), d.key, _show(d.expected), _show(d.actual), delta,
                         f"{d.tolerance:g}", "DRIFT" if d.drift else "ok"])  # fmt: skip
        lines.append(format_table(["run / setting", "metric", "ci.csv", "now", "delta", "tolerance", ""], rows))
    n_drift = sum(d.drift for d in comparison.differences)
    lines.append(f"regress: {comparison.n_compared} numbers compared, {len(comparison.differences)} changed, "
                 f"{n_drift} beyond tolerance")  # fmt: skip
    lines += [f"regress: FAIL: {problem}" for problem in comparison.problems]
    return "\n".join(lines)


def _show(value: float | None) -> str:
    return "NaN/absent" if value is None else f"{value:.6f}"


def read_ci(path: Path) -> list[dict]:
    return read_csv(path)


def write_ci(path: Path, rows: list[dict]) -> Path:
    ordered = sorted(rows, key=row_id)
    return write_text(path, csv_text(FIELDS, ordered))


REGRESS_GRID = "regress"  # icdbench/settings/grids/regress.yaml: the jobs above, declared as a grid


def job_of(split: str, model: str) -> str:
    """The regress job a run belongs to (the key of ``failed``): its model on synth-tiny, else ``model@split``
    (``FOLD_JOB`` for a fold run, ``CODIESP_JOB``)."""
    return model if split == SPLIT else f"{model}@{split}"


def codiesp_source() -> Path:
    """The CodiEsp v4 folder: ``$CODIESP_SOURCE``, else ``../shared/data/codiesp`` from the repository root."""
    return Path(os.environ.get(CODIESP_ENV) or REPO_ROOT.parent / "shared" / "data" / "codiesp")


def skipped_jobs() -> dict[str, str]:
    """The jobs whose input is absent on this machine, each with the one line that says so."""
    source = codiesp_source()
    return {} if source.is_dir() else {
        CODIESP_JOB: f"no CodiEsp corpus at {source} (../shared/data/codiesp from the repository root, or set "
                     f"{CODIESP_ENV}=PATH); its {CI_FILE} rows are not compared"}  # fmt: skip
