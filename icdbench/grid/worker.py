"""One grid run in a fresh process: ``python -m icdbench.grid.worker RUN_JSON OUTCOME_FILE``.

Every launcher (local pool, Ray task, SLURM job) starts this process with :func:`start` and reads its
:class:`Outcome`; the process calls :func:`icdbench.training.run.train`, the function ``icdbench train`` and
``bench`` call, so a grid run writes the same run folder and record. A fresh process per run keeps one run's
global state (torch threads, seeds, caches) out of the next and lets a killed run fail alone. Its exit code is
0 (done or skipped), 143 (stopped by SIGTERM, resumable) or 1 (failed).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

from icdbench.grid.spec import GridRun
from icdbench.io import atomic_write_text

TERMINATED = 143
LOG_TAIL_LINES = 25


@dataclass
class Outcome:
    key: str
    status: str  # done | skipped (a matching record existed) | failed | terminated | busy (trained elsewhere now)
    command: str
    log: str
    error: str = ""
    wall_s: float = 0.0
    cpu_s: float = 0.0  # CPU seconds of the run in its worker (all its threads)
    record: dict | None = None
    run_dir: str | None = None  # relative to the worker's RUNS_DIR
    resumed: bool = False
    log_tail: str = ""  # the end of the log, for a driver that cannot read the worker's files

    def to_json(self) -> str:
        return json.dumps(asdict(self))


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = Path(path).read_text(errors="replace").replace("\r", "\n")
    except OSError:
        return ""
    return "\n".join([line for line in text.splitlines() if line.strip()][-lines:])


def _relative(run_dir: Path) -> str:
    from icdbench.paths import runs_dir

    try:
        return str(Path(run_dir).resolve().relative_to(runs_dir().resolve()))
    except ValueError:
        return str(run_dir)


def execute(run: GridRun) -> Outcome:
    """Run ``run`` in this process unless its record exists; resume its unfinished folder if it has one."""
    from filelock import FileLock, Timeout

    from icdbench.errors import Terminated
    from icdbench.grid.state import find_record, find_resumable, identity, lock_file
    from icdbench.training.run import RunRequest, train

    outcome = Outcome(run.key, "failed", run.command, "")
    lock = lock_file(run)
    lock.parent.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(lock), timeout=0):
            ident = identity(run)
            found = find_record(run, ident)
            if found is not None:
                outcome.status, outcome.record, outcome.run_dir = "skipped", found[0], _relative(found[1])
                return outcome
            resume = find_resumable(run, ident)
            if resume is not None:
                print(f"grid: resuming {resume}", flush=True)
                request = RunRequest(run.model, run.split, resume=resume, command=run.command)
            else:
                request = RunRequest(run.model, run.split, run.profile, seed=run.seed, fold=run.fold,
                                     overrides=list(run.overrides), command=run.command,
                                     source=Path(run.source) if run.source else None)  # fmt: skip
            result = train(request)
            outcome.status, outcome.record, outcome.run_dir = "done", result.record, _relative(result.run_dir)
            outcome.resumed = resume is not None
    except Timeout:
        outcome.status, outcome.error = "busy", f"another process holds {lock} (training this run now)"
    except Terminated as exc:
        outcome.status, outcome.error = "terminated", str(exc)
    except Exception as exc:  # one failing run is reported, the grid goes on
        traceback.print_exc()
        outcome.error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return outcome


@dataclass
class Started:
    """A worker process started by :func:`start`."""

    run: GridRun
    process: subprocess.Popen
    outcome_file: Path
    log: Path
    start: float

    def finish(self) -> Outcome:
        """The outcome after the process ended (a process killed before writing one failed with its signal)."""
        code = self.process.wait()
        wall = time.perf_counter() - self.start
        outcome = None
        if self.outcome_file.is_file():
            outcome = Outcome(**json.loads(self.outcome_file.read_text()))
            self.outcome_file.unlink(missing_ok=True)
        if outcome is None:
            terminated = code in (TERMINATED, -signal.SIGTERM)
            why = f"killed by signal {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
            outcome = Outcome(self.run.key, "terminated" if terminated else "failed", self.run.command,
                              str(self.log), f"the worker {why} before it finished")  # fmt: skip
        outcome.wall_s, outcome.log = wall, str(self.log)
        if outcome.status in ("failed", "terminated"):
            outcome.log_tail = log_tail(self.log)
        return outcome

    def terminate(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)


def start(run: GridRun, log: Path, env: dict[str, str] | None = None) -> Started:
    """Start ``run`` in a fresh worker process, its console output appended to ``log``."""
    log = Path(log)
    log.parent.mkdir(parents=True, exist_ok=True)
    outcome_file = log.with_name(f".{log.stem}.{os.getpid()}.{time.monotonic_ns()}.outcome.json")
    threads = str(run.threads)
    child_env = {**os.environ, **(env or {}), "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    with open(log, "ab") as handle:
        process = subprocess.Popen([sys.executable, "-m", "icdbench.grid.worker", run.to_json(), str(outcome_file)],
                                   stdout=handle, stderr=subprocess.STDOUT, env=child_env,
                                   stdin=subprocess.DEVNULL)  # fmt: skip
    return Started(run, process, outcome_file, log, time.perf_counter())


def run_in_subprocess(run: GridRun, log: str, env: dict[str, str] | None = None) -> Outcome:
    """Start ``run`` and wait for it (a Ray task or SLURM job body); SIGTERM to this process reaches the run."""
    started = start(run, Path(log), env)
    previous = signal.getsignal(signal.SIGTERM)
    forwarding = threading.current_thread() is threading.main_thread()  # only the main thread sets handlers
    if forwarding:
        signal.signal(signal.SIGTERM, lambda *_: started.terminate())
    try:
        return started.finish()
    except BaseException:  # a cancelled Ray task (KeyboardInterrupt): the run must not outlive it
        started.terminate()
        started.process.wait()
        raise
    finally:
        if forwarding:
            signal.signal(signal.SIGTERM, previous)


def main(argv: list[str]) -> int:
    import torch

    run = GridRun.from_json(argv[0])
    torch.set_num_threads(run.threads)
    cpu = time.process_time()
    if hasattr(signal, "SIGUSR2"):  # SLURM's early warning to submitit (--signal=USR2@90) must not end the run
        signal.signal(signal.SIGUSR2, signal.SIG_IGN)
    outcome = execute(run)
    outcome.cpu_s = time.process_time() - cpu
    atomic_write_text(Path(argv[1]), outcome.to_json())
    return {"terminated": TERMINATED, "failed": 1}.get(outcome.status, 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
