"""One grid run in a fresh process: ``python -m icdbench.grid.worker RUN_JSON OUTCOME_FILE``.

Every launcher (local pool, Ray task, SLURM job) starts this process with :func:`icdbench.grid.process.start`
and reads its :class:`~icdbench.grid.process.Outcome`; the process calls :func:`icdbench.training.run.train`,
the function ``icdbench train`` and ``bench`` call, so a grid run writes the same run folder and record. A fresh
process per run keeps one run's global state (torch threads, seeds, caches) out of the next and lets a killed run
fail alone. Its exit code is 0 (done or skipped), 143 (stopped by SIGTERM, resumable) or 1 (failed).
"""

from __future__ import annotations

import os
import signal
import sys
import time
import traceback
from pathlib import Path

from filelock import FileLock, Timeout

from icdbench.errors import Terminated
from icdbench.grid.process import TERMINATED, Outcome
from icdbench.grid.spec import GridRun
from icdbench.grid.state import find_record, find_resumable, identity, lock_file
from icdbench.io import atomic_write_text
from icdbench.paths import runs_dir
from icdbench.results.record import RECORD_FILE, read_record_file
from icdbench.training.ranks import forget, process_rank, share, started_externally


def _relative(run_dir: Path) -> str:
    try:
        return str(Path(run_dir).resolve().relative_to(runs_dir().resolve()))
    except ValueError:
        return str(run_dir)


DECISION = "grid_run"  # what every rank of a DDP run takes from rank 0: skip the run, resume a folder, start fresh


def _decide(run: GridRun) -> dict:
    """Rank 0's decision, made while it holds the run's lock."""
    ident = identity(run)
    found = find_record(run, ident)
    if found is not None:
        return {"status": "skipped", "run_dir": str(found[1])}
    resume = find_resumable(run, ident)
    return {"status": "train", "resume": None if resume is None else str(resume)}


def _carry_out(run: GridRun, decision: dict, outcome: Outcome) -> Outcome:
    # heavy: torch and Lightning, which only the worker process needs (the grid driver imports this module)
    from icdbench.training.run import RunRequest, train

    if decision["status"] == "busy":
        outcome.status, outcome.error = "busy", decision["error"]
    elif decision["status"] == "skipped":
        outcome.status, outcome.run_dir = "skipped", _relative(Path(decision["run_dir"]))
        outcome.record = read_record_file(Path(decision["run_dir"]) / RECORD_FILE)
    else:
        resume = decision["resume"]
        if resume is not None:
            print(f"grid: resuming {resume}", flush=True)
            request = RunRequest(run.model, run.split, resume=Path(resume), command=run.command)
        else:
            request = RunRequest(run.model, run.split, run.profile, seed=run.seed, fold=run.fold,
                                 overrides=list(run.overrides), command=run.command,
                                 source=Path(run.source) if run.source else None)  # fmt: skip
        result = train(request)  # on a DDP rank other than 0 its record is None
        outcome.status, outcome.record, outcome.run_dir = "done", result.record, _relative(result.run_dir)
        outcome.resumed = resume is not None
    return outcome


def run_rank(run: GridRun):
    """This process's rank in ``run`` (a DDP run has several processes; see icdbench.training.ranks) and the
    run's accelerator."""
    train_cfg = run.train_config()
    return process_rank(train_cfg), train_cfg.accelerator


def execute(run: GridRun) -> Outcome:
    """Run ``run`` in this process unless its record exists; resume its unfinished folder if it has one. Under DDP
    rank 0 decides (holding the run's lock) and the other ranks follow."""
    outcome = Outcome(run.key, "failed", run.command, "")
    try:
        rank, accelerator = run_rank(run)
        if not rank.is_zero:
            return _carry_out(run, share(DECISION, rank, dict, accelerator), outcome)
        lock = lock_file(run)
        lock.parent.mkdir(parents=True, exist_ok=True)
        try:
            with FileLock(str(lock), timeout=0):
                return _carry_out(run, share(DECISION, rank, lambda: _decide(run), accelerator), outcome)
        except Timeout:
            busy = {"status": "busy", "error": f"another process holds {lock} (training this run now)"}
            return _carry_out(run, share(DECISION, rank, lambda: busy, accelerator), outcome)
    except Terminated as exc:
        outcome.status, outcome.error = "terminated", str(exc)
    except Exception as exc:  # one failing run is reported, the grid goes on
        traceback.print_exc()
        outcome.error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    finally:
        forget(DECISION)
    return outcome


def main(argv: list[str]) -> int:
    import torch  # heavy: only the worker process sets its threads (the driver imports this module)

    run = GridRun.from_json(argv[0])
    torch.set_num_threads(run.threads)
    cpu = time.process_time()
    if hasattr(signal, "SIGUSR2"):  # SLURM's early warning to submitit (--signal=USR2@90) must not end the run
        signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    outcome = execute(run)
    outcome.cpu_s = time.process_time() - cpu
    code = {"terminated": TERMINATED, "failed": 1}.get(outcome.status, 0)
    if int(os.environ.get("LOCAL_RANK") or 0) > 0 and not started_externally():
        return code  # a DDP rank Lightning started from this worker, with its argv: rank 0 writes the outcome
    atomic_write_text(Path(argv[1]), outcome.to_json())
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
