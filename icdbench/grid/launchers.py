"""The ``local`` and ``ray`` engines: each starts every run as :mod:`icdbench.grid.worker` process
(:mod:`icdbench.grid.process`) and reports outcomes as they arrive. (``slurm`` is :mod:`icdbench.grid.slurm`.)

* local: a pool sized from the cores (``--cpus``) and each run's ``resources``: a run starts when its CPUs (and
  GPUs, one ``CUDA_VISIBLE_DEVICES`` set per run) are free; SIGTERM or Ctrl-C to the grid is passed on to the
  runs, which keep their checkpoints.
* ray: each run is a Ray task with ``num_cpus``/``num_gpus`` that starts the same worker process (the task body is
  :func:`~icdbench.grid.process.run_in_subprocess`, so a Ray worker imports no config stack); ``--address``
  joins a running cluster, otherwise a local instance starts with ``--cpus`` CPUs. The outcome, record included,
  travels back to the driver, which writes it under its RUNS_DIR when the worker's files are not there.
"""

from __future__ import annotations

import importlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from icdbench.errors import UserError
from icdbench.grid.process import Outcome, run_in_subprocess, start
from icdbench.grid.spec import GridRun

POLL_S = 0.2


def require(module: str, extra: str):
    """Import an optional engine, or one line saying which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserError(f"the {extra} launcher needs {module}: pip install 'icdbench[{extra}]'") from None


def available_cpus() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def _gpu_count(runs: list[GridRun]) -> int:
    if not any(run.resources.gpus for run in runs):
        return 0
    import torch  # heavy: asked only when a run reserves GPUs

    return torch.cuda.device_count()


class _Stop:
    """SIGTERM/SIGINT to the driver: start nothing more and pass SIGTERM to the running runs."""

    def __init__(self, on_stop: Callable[[], None]):
        self.stopped = False
        self.on_stop = on_stop
        self.previous = {}

    def __enter__(self):
        for signum in (signal.SIGTERM, signal.SIGINT):
            self.previous[signum] = signal.signal(signum, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.stopped = True
        self.on_stop()

    def __exit__(self, *exc) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)


def run_local(runs: list[GridRun], logs: dict[str, Path], env: dict[str, str], cpus: int, progress) -> tuple[
        list[Outcome], bool]:  # fmt: skip
    """Run ``runs`` on this machine, as many at a time as ``cpus`` and the GPUs allow: (outcomes, stopped)."""
    total_gpus = _gpu_count(runs)
    free_cpus, free_gpus = cpus, list(range(total_gpus))
    pending, running, outcomes = list(runs), {}, []
    for run in list(pending):
        if run.resources.gpus > total_gpus:
            pending.remove(run)
            outcome = Outcome(run.key, "failed", run.command, str(logs[run.key]),
                              f"needs {run.resources.gpus} GPU(s), this machine has {total_gpus}")  # fmt: skip
            outcomes.append(outcome)
            progress.finished(outcome, 0)

    def stop() -> None:
        for started, _, _ in running.values():
            started.terminate()

    with _Stop(stop) as stopping:
        while running or (pending and not stopping.stopped):
            for run in list(pending):
                need = min(run.resources.cpus, cpus)  # a run asking for more than the pool runs alone
                if stopping.stopped or need > free_cpus or run.resources.gpus > len(free_gpus):
                    continue
                gpus, free_gpus = free_gpus[:run.resources.gpus], free_gpus[run.resources.gpus:]
                run_env = {**env, "CUDA_VISIBLE_DEVICES": ",".join(map(str, gpus))} if total_gpus else env
                running[run.key] = (start(run.ticket(), logs[run.key], run_env), run, gpus)
                free_cpus -= need
                pending.remove(run)
                progress.started(len(running))
            for key, (started, run, gpus) in list(running.items()):
                if started.process.poll() is None:
                    continue
                del running[key]
                free_cpus += min(run.resources.cpus, cpus)
                free_gpus = sorted(free_gpus + gpus)
                outcome = started.finish()
                outcomes.append(outcome)
                progress.finished(outcome, len(running))
            time.sleep(POLL_S)
    return outcomes, stopping.stopped


class RayInstance:
    """The Ray a grid call runs on: a running cluster (``address``), or a local instance started here with ``cpus``
    CPUs that :meth:`close` stops."""

    def __init__(self, address: str | None, cpus: int | None):
        self.ray = require("ray", "ray")
        self.started_here = not self.ray.is_initialized()
        # ray.init installs its own SIGTERM handler (it raises SystemExit) and shutdown leaves it: close puts ours
        # back, so a later fit in this process (Lightning chains to the previous handler) keeps its checkpoint.
        self.previous_sigterm = signal.getsignal(signal.SIGTERM)
        if not self.started_here:
            return
        # Ray starts its workers at nice 15 (worker_niceness), below its own daemons and below everything else on
        # the machine; a local instance of ours runs them at the priority the local pool's runs get. A cluster
        # joined with --address keeps its own setting.
        options = {"address": address} if address else {"num_cpus": cpus or available_cpus(),
                                                         "_system_config": {"worker_niceness": 0}}  # fmt: skip
        self.ray.init(**options, include_dashboard=False, log_to_driver=False, configure_logging=False)

    def close(self) -> None:
        if self.started_here:
            self.ray.shutdown()
        signal.signal(signal.SIGTERM, self.previous_sigterm)


def run_ray(runs: list[GridRun], logs: dict[str, Path], env: dict[str, str], instance: RayInstance,
            progress) -> tuple[list[Outcome], bool]:  # fmt: skip
    """Run ``runs`` as Ray tasks on ``instance``."""
    ray = instance.ray
    capacity = int(ray.cluster_resources().get("CPU", 1))
    task = ray.remote(run_in_subprocess)
    refs = {}
    for run in runs:
        ref = task.options(num_cpus=run.resources.cpus, num_gpus=run.resources.gpus, max_retries=0,
                           name=f"icdbench-{run.key}").remote(run.ticket(), str(logs[run.key]), env)  # fmt: skip
        refs[ref] = run
    outcomes: list[Outcome] = []

    def running() -> int:  # Ray does not say which queued task runs; the CPUs bound how many can
        per_run = max(1, min(r.resources.cpus for r in refs.values())) if refs else 1
        return min(len(refs), max(1, capacity // per_run))

    progress.started(running())
    with _Stop(lambda: [ray.cancel(ref, force=False) for ref in refs]) as stopping:
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1, timeout=1.0)
            for ref in ready:
                run = refs.pop(ref)
                try:
                    outcome = ray.get(ref)
                except Exception as exc:  # a task Ray could not run (worker lost, cancelled)
                    error = f"Ray: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
                    outcome = Outcome(run.key, "failed", run.command, str(logs[run.key]), error)
                outcomes.append(outcome)
                progress.finished(outcome, running())
    return outcomes, stopping.stopped
