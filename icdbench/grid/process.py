"""A grid run's worker process seen from the launcher: start it, pass SIGTERM on, wait, read its :class:`Outcome`.

The worker itself is :mod:`icdbench.grid.worker`. This module imports nothing heavier than the record module, so
a Ray task that only starts and waits for a worker (its body is :func:`run_in_subprocess`) loads no config stack
(omegaconf, the model registry) in the Ray worker: a :class:`Ticket` carries what starting the process needs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from icdbench.results.record import RunRecord

TERMINATED = 143
LOG_TAIL_LINES = 25


@dataclass(frozen=True)
class Ticket:
    """What starting one run's worker process needs (``GridRun.ticket()``): the run as JSON and its labels."""

    key: str
    command: str
    threads: int
    run_json: str


@dataclass
class Outcome:
    key: str
    status: str  # done | skipped (a matching record existed) | failed | terminated | busy (trained elsewhere now)
    command: str
    log: str
    error: str = ""
    wall_s: float = 0.0
    cpu_s: float = 0.0  # CPU seconds of the run in its worker (all its threads)
    record: RunRecord | None = None  # travels as its JSON object
    run_dir: str | None = None  # relative to the worker's RUNS_DIR
    resumed: bool = False
    log_tail: str = ""  # the end of the log, for a driver that cannot read the worker's files

    def to_json(self) -> str:
        return json.dumps({**vars(self), "record": self.record.to_dict() if self.record is not None else None})

    @staticmethod
    def from_json(text: str, source: str) -> Outcome:
        data = json.loads(text)
        record = data.pop("record", None)
        return Outcome(**data, record=RunRecord.from_dict(record, source) if record is not None else None)


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = Path(path).read_text(errors="replace").replace("\r", "\n")
    except OSError:
        return ""
    return "\n".join([line for line in text.splitlines() if line.strip()][-lines:])


@dataclass
class Started:
    """A worker process started by :func:`start`."""

    ticket: Ticket
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
            outcome = Outcome.from_json(self.outcome_file.read_text(), f"the record in {self.outcome_file}")
            self.outcome_file.unlink(missing_ok=True)
        if outcome is None:
            terminated = code in (TERMINATED, -signal.SIGTERM)
            why = f"killed by signal {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
            outcome = Outcome(self.ticket.key, "terminated" if terminated else "failed", self.ticket.command,
                              str(self.log), f"the worker {why} before it finished")  # fmt: skip
        outcome.wall_s, outcome.log = wall, str(self.log)
        if outcome.status in ("failed", "terminated"):
            outcome.log_tail = log_tail(self.log)
        return outcome

    def terminate(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)


def start(ticket: Ticket, log: Path, env: dict[str, str] | None = None) -> Started:
    """Start the run of ``ticket`` in a fresh worker process, its console output appended to ``log``."""
    log = Path(log)
    log.parent.mkdir(parents=True, exist_ok=True)
    outcome_file = log.with_name(f".{log.stem}.{os.getpid()}.{time.monotonic_ns()}.outcome.json")
    threads = str(ticket.threads)
    child_env = {**os.environ, **(env or {}), "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    with open(log, "ab") as handle:
        process = subprocess.Popen([sys.executable, "-m", "icdbench.grid.worker", ticket.run_json, str(outcome_file)],
                                   stdout=handle, stderr=subprocess.STDOUT, env=child_env,
                                   stdin=subprocess.DEVNULL)  # fmt: skip
    return Started(ticket, process, outcome_file, log, time.perf_counter())


def run_in_subprocess(ticket: Ticket, log: str, env: dict[str, str] | None = None) -> Outcome:
    """Start the run of ``ticket`` and wait for it (the body of a Ray task or SLURM job); SIGTERM to this process
    reaches the run."""
    started = start(ticket, Path(log), env)
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
