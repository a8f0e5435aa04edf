"""``icdbench regress`` (``make regress``): re-run every registered model at the ci profile on synth-tiny and
compare every headline metric, in both settings, with ``leaderboards/ci.csv``.

Each model runs in a fresh process with one torch thread (so a row equals what ``icdbench bench MODEL
synth-tiny --profile ci --seeds 0`` gives with ``OMP_NUM_THREADS=1``), as many processes at a time as there are
cores. Tolerance — the numbers are produced with fixed seeds and deterministic algorithms:

* same machine fingerprint (torch version, CPU model, torch threads) as the row in ci.csv: the runs repeat
  bit for bit, so any difference is drift; ``SAME_MACHINE_ATOL`` = 1e-6 only absorbs printing, and ci.csv
  stores numbers with full precision anyway;
* another fingerprint: other vector instructions or thread counts change float rounding, which moves a few
  borderline scores across the decision threshold on synth-tiny's small test set; ``CROSS_MACHINE_ATOL``
  (see its comment for the measurement behind it) admits that and still catches a real change, which on
  these models moves metrics by several points.

It fails (exit 1) on drift, on a registered model missing from ci.csv or failing to run, and on a model in
ci.csv that is no longer registered. ``--update`` rewrites ci.csv from the fresh runs (say why in CHANGELOG).
"""

from __future__ import annotations

import math
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from icdbench.results.leaderboard import HEADLINE_KEYS, SETTINGS
from icdbench.results.locking import csv_text, read_csv, write_text

CI_FILE = "ci.csv"
SPLIT = "synth-tiny"
PROFILE = "ci"
SEED = 0
THREADS = 1  # torch threads per run: the numbers then do not depend on how many cores a machine has
SAME_MACHINE_ATOL = 1e-6
# Measured: the largest difference between two fingerprints across all models and headline metrics (see the
# issue note); set with a margin above it, well below the several points a real change moves these metrics.
CROSS_MACHINE_ATOL = 0.05
ID_FIELDS = ("model", "split", "fold", "setting")
INFO_FIELDS = ("profile", "seed", "split_version", "split_hash", "config_hash", "suite_version", "fingerprint")
FIELDS = (*ID_FIELDS, *HEADLINE_KEYS, *INFO_FIELDS)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_fingerprint(threads: int = THREADS) -> str:
    """What decides whether two runs can agree bit for bit: torch version, CPU model and intra-op threads."""
    import torch

    return f"torch {torch.__version__}; {cpu_model()}; {threads} thread{'s' if threads > 1 else ''}"


def _cell(value) -> str:
    if value is None:
        return ""
    value = float(value)
    return repr(value) if math.isfinite(value) else ""


def rows_of_record(record: dict, fingerprint: str) -> list[dict]:
    """ci.csv rows of one run: one per setting, every headline metric at full precision."""
    rows = []
    for setting in SETTINGS:
        metrics = record["metrics"].get(setting) or {}
        rows.append({
            "model": record["model"], "split": record["split"], "fold": _text(record.get("fold")), "setting": setting,
            **{key: _cell(metrics.get(key)) for key in HEADLINE_KEYS},
            "profile": record["profile"], "seed": record["seed"], "split_version": record.get("split_version"),
            "split_hash": ((record.get("split_hashes") or {}).get("content_sha256") or "")[:12],
            "config_hash": (record.get("config_hash") or "")[:12],
            "suite_version": (record.get("provenance") or {}).get("versions", {}).get("icdbench"),
            "fingerprint": fingerprint,
        })  # fmt: skip
    return rows


def _text(value) -> str:
    return "" if value is None else str(value)


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
                 failed: dict[str, str] | None = None) -> Comparison:  # fmt: skip
    """Compare fresh ``actual`` rows with ``expected`` (ci.csv) rows; pure, so tests perturb a copy."""
    problems = [f"{model}: the run failed ({reason})" for model, reason in sorted((failed or {}).items())]
    in_expected = {row["model"] for row in expected}
    for model in registered:
        if model not in in_expected:
            problems.append(f"{model}: registered but missing from {CI_FILE} (make regress UPDATE=1, with a "
                            "CHANGELOG line)")  # fmt: skip
    for model in sorted(in_expected - set(registered)):
        problems.append(f"{model}: in {CI_FILE} but no longer registered (make regress UPDATE=1 to drop it)")
    fresh = {row_id(row): row for row in actual}
    differences, compared = [], 0
    for old in expected:
        if old["model"] not in registered or (failed and old["model"] in failed):
            continue
        new = fresh.get(row_id(old))
        if new is None:
            problems.append(f"{' / '.join(x for x in row_id(old) if x)}: no fresh result for this row")
            continue
        if str(new.get("split_version")) != str(old.get("split_version")):
            problems.append(f"{old['model']} / {old['split']}: split version {old.get('split_version')} -> "
                            f"{new.get('split_version')} (a version bump needs make regress UPDATE=1)")  # fmt: skip
        same_machine = old.get("fingerprint") == fingerprint
        tolerance = SAME_MACHINE_ATOL if same_machine else CROSS_MACHINE_ATOL
        for key in HEADLINE_KEYS:
            compared += 1
            a, b = _float(old.get(key)), _float(new.get(key))
            if a != b:
                differences.append(Difference(row_id(old), key, a, b, tolerance))
    return Comparison(differences, problems, compared)


def diff_table(comparison: Comparison) -> str:
    from icdbench.training.commands import format_table

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


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Set environment variables for the worker processes started inside the block, then restore them."""
    old = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in old.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _run_one(model: str, catch: bool = True) -> tuple[dict | None, str | None, float]:
    """One ci run in a fresh worker process: (record, failure, cpu seconds) — what `icdbench bench MODEL
    synth-tiny --profile ci --seeds 0` gives with one torch thread. ``catch=False`` (``--debug``) lets the
    exception through, with the worker's traceback."""
    import torch

    from icdbench.training.run import RunRequest, train

    torch.set_num_threads(THREADS)
    cpu = time.process_time()
    command = f"icdbench bench {model} {SPLIT} --profile {PROFILE} --seeds {SEED}"
    try:
        record = train(RunRequest(model, SPLIT, PROFILE, seed=SEED, command=command)).record
        return record, None, time.process_time() - cpu
    except Exception as exc:  # a broken model is a regression to report, not a reason to stop the others
        if not catch:
            raise
        first = str(exc).splitlines()[0] if str(exc) else ""
        return None, f"{type(exc).__name__}: {first}", time.process_time() - cpu


def workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def run_models(models: list[str], debug: bool = False) -> tuple[list[dict], dict[str, str], dict[str, float]]:
    """Run each model once at the ci profile on synth-tiny, one fresh single-threaded process per model and as
    many at a time as there are cores: (records, failures, cpu seconds per model)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from icdbench.training.run import ensure_split

    ensure_split(SPLIT)  # once, before the workers need it
    records, failed, cpu = [], {}, {}
    scratch = Path(tempfile.mkdtemp(prefix="icdbench-regress-"))
    threads = str(THREADS)
    try:
        with _environment(RUNS_DIR=str(scratch), OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads), \
                ProcessPoolExecutor(min(workers(), len(models)), mp_context=multiprocessing.get_context("spawn"),
                                    max_tasks_per_child=1) as pool:  # fmt: skip
            start = time.perf_counter()
            futures = {pool.submit(_run_one, model, not debug): model for model in models}
            for future in as_completed(futures):
                model = futures[future]
                record, failure, cpu[model] = future.result()
                if failure is not None:
                    failed[model] = failure
                else:
                    records.append(record)
                status = f"failed: {failure}" if failure else "ok"
                print(f"regress: {model:<15} {cpu[model]:6.1f} s cpu  (at {time.perf_counter() - start:5.0f} s)  "
                      f"{status}", flush=True)  # fmt: skip
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return sorted(records, key=lambda r: r["model"]), failed, cpu


def run_regress(update: bool = False, debug: bool = False) -> int:
    from icdbench.models.registry import all_models
    from icdbench.results.sources import leaderboards_dir

    path = leaderboards_dir() / CI_FILE
    registered = list(all_models())
    start = time.perf_counter()
    print(f"regress: {len(registered)} models at the {PROFILE} profile on {SPLIT}, {workers()} at a time", flush=True)
    records, failed, cpu = run_models(registered, debug=debug)
    fingerprint = machine_fingerprint()
    actual = [row for record in records for row in rows_of_record(record, fingerprint)]
    print(f"regress: {len(registered)} models in {time.perf_counter() - start:.0f} s ({sum(cpu.values()):.0f} s cpu) "
          f"on {fingerprint}")  # fmt: skip
    if update:
        if failed:
            print(f"regress: not updating {path}: {len(failed)} model(s) failed: {', '.join(sorted(failed))}",
                  file=sys.stderr)  # fmt: skip
            return 1
        write_ci(path, actual)
        print(f"regress: wrote {path} ({len(actual)} rows); add a CHANGELOG line saying why the numbers changed")
        return 0
    if not path.is_file():
        print(f"regress: FAIL: {path} does not exist; create it with make regress UPDATE=1", file=sys.stderr)
        return 1
    comparison = compare_rows(read_ci(path), actual, registered, fingerprint, failed)
    print(diff_table(comparison))
    return 0 if comparison.ok else 1
