"""``icdbench regress`` (``make regress``): run the regress grid and compare its rows with ``leaderboards/ci.csv``
(what is compared and within which tolerance: :mod:`icdbench.results.regress`)."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from icdbench.app.requests import RegressRequest
from icdbench.datasets.prepared import ensure_split
from icdbench.datasets.synthetic.cmc_shaped import write_cmc_file
from icdbench.grid.commands import Launch, launch
from icdbench.grid.launchers import available_cpus
from icdbench.grid.progress import FAILED
from icdbench.grid.spec import load_grid
from icdbench.models.registry import all_models
from icdbench.results.record import RunRecord
from icdbench.results.regress import (
    CI_FILE,
    CMC_DOCS,
    CODIESP_SPLIT,
    CROSS_MACHINE_ATOL,
    FOLD_JOB,
    FOLD_SPLIT,
    PROFILE,
    REGRESS_GRID,
    SAME_MACHINE_ATOL,
    SEED,
    SPLIT,
    THREADS,
    _job_of,
    codiesp_source,
    compare_rows,
    diff_table,
    job_of,
    machine_fingerprint,
    read_ci,
    rows_of_record,
    skipped_jobs,
    write_ci,
)
from icdbench.results.sources import leaderboards_dir


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


def workers() -> int:
    return available_cpus()


def run_models(models: list[str], debug: bool = False, skip: frozenset[str] = frozenset(),
               only: frozenset[str] | None = None
               ) -> tuple[list[RunRecord], dict[str, str], dict[str, float]]:  # fmt: skip
    """Run the regress grid's jobs but ``skip`` (or just ``only``) on the local pool (``icdbench grid regress``): a
    fresh single-threaded worker per run, as many at a time as there are cores: (records, failures per job, cpu
    seconds per job). A failure shows the end of its log (its traceback: ``debug`` adds nothing)."""
    records, failed, cpu = [], {}, {}
    scratch = Path(tempfile.mkdtemp(prefix="icdbench-regress-"))
    threads = str(THREADS)
    # A fresh DATA_DIR too, as on a clean CI clone: a synth-tiny (or word2vec cache) prepared by older code under
    # the same split version would otherwise be reused silently and give other numbers.
    scratch_env = {"RUNS_DIR": str(scratch / "runs"), "DATA_DIR": str(scratch / "data")}
    try:
        with _environment(**scratch_env, OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads):
            ensure_split(SPLIT)  # once, before the workers need them
            ensure_split(FOLD_SPLIT, write_cmc_file(scratch / "cmc2007.xml", CMC_DOCS, seed=SEED))
            grid = load_grid(REGRESS_GRID)
            jobs = {run: job_of(run.split, run.model) for run in grid.runs(models)}  # reads cmc2007, not CodiEsp
            runs = {run.key: run for run, job in jobs.items() if job not in skip and (only is None or job in only)}
            if any(run.split == CODIESP_SPLIT for run in runs.values()):
                ensure_split(CODIESP_SPLIT, codiesp_source())
            start = time.perf_counter()

            def report(outcome) -> None:
                run = runs[outcome.key]
                job = job_of(run.split, run.model)
                cpu[job] = cpu.get(job, 0.0) + outcome.cpu_s
                status = "ok"
                if outcome.status in FAILED:
                    failed[job] = outcome.error
                    tail = "\n".join(f"    | {line}" for line in outcome.log_tail.splitlines())
                    status = "\n".join(filter(None, (f"failed: {outcome.error}", tail)))
                else:
                    records.append(outcome.record)
                print(f"regress: {outcome.key:<34} {outcome.cpu_s:6.1f} s cpu  (at {time.perf_counter() - start:5.0f} "
                      f"s)  {status}", flush=True)  # fmt: skip

            if runs:  # every job asked for may be skipped
                launch(grid, list(runs.values()), Launch(cpus=workers(), quiet=True, on_outcome=report))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return sorted(records, key=lambda r: (r.model, r.split, r.fold or 0)), failed, cpu


def regress(request: RegressRequest) -> int:
    """``make regress`` (``UPDATE=1``: ``request.update``). ``request.only`` (with ``update``): run just these jobs and
    keep the other jobs' ci.csv rows as they are (a new job adds its rows, changing no other); a skipped job's rows
    are kept too."""
    update, only = request.update, request.only
    path = leaderboards_dir() / CI_FILE
    registered = list(all_models())
    start = time.perf_counter()
    print(f"regress: {len(registered)} models at the {PROFILE} profile on {SPLIT}, {workers()} at a time", flush=True)
    skipped = skipped_jobs()
    for job, why in skipped.items():
        print(f"regress: skipping {job}: {why}", flush=True)
    records, failed, cpu = run_models(registered, skip=frozenset(skipped), only=only)
    fingerprint = machine_fingerprint()
    actual = [row for record in records for row in rows_of_record(record, fingerprint)]
    print(f"regress: {len(registered)} models and {FOLD_JOB} in {time.perf_counter() - start:.0f} s "
          f"({sum(cpu.values()):.0f} s cpu) on {fingerprint}")  # fmt: skip
    if update:
        if failed:
            print(f"regress: not updating {path}: {len(failed)} model(s) failed: {', '.join(sorted(failed))}",
                  file=sys.stderr)  # fmt: skip
            return 1
        ran = {_job_of(row) for row in actual}
        keep = (lambda job: job not in ran) if only is not None else (lambda job: job in skipped)
        carried = [row for row in read_ci(path) if keep(_job_of(row))] if path.is_file() else []
        write_ci(path, actual + carried)
        print(f"regress: wrote {path} ({len(actual)} rows, {len(carried)} kept); add a CHANGELOG line saying why")
        return 0
    if not path.is_file():
        print(f"regress: FAIL: {path} does not exist; create it with make regress UPDATE=1", file=sys.stderr)
        return 1
    expected = read_ci(path)
    others = sorted({row.get("fingerprint", "") for row in expected} - {fingerprint})
    if others:
        print(f"regress: note: {CI_FILE} was made on {', '.join(others)}; this machine is {fingerprint}, so those rows "
              f"are compared within {CROSS_MACHINE_ATOL} instead of {SAME_MACHINE_ATOL} (see icdbench.results.regress)")
    comparison = compare_rows(expected, actual, registered, fingerprint, failed, frozenset(skipped))
    print(diff_table(comparison))
    return 0 if comparison.ok else 1
