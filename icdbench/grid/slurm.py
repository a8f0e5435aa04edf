"""The ``slurm`` engine: submitit job arrays, one array per distinct resource request.

Each array task runs one grid run through :func:`icdbench.grid.process.run_in_subprocess`. SLURM sends SIGTERM to
every process of a job it preempts or ends: the run keeps its checkpoint and exits 143, and the next ``icdbench
grid`` resumes it. At the time limit submitit's early signal (USR2, 90 s before) requeues the task
(:class:`GridJob` is checkpointable): the requeued task finds the unfinished run folder and resumes it.
``--slurm-cluster local`` runs the same arrays with submitit's local executor (no SLURM needed).

A DDP run (``train.devices`` × ``train.num_nodes`` > 1) gets one task per process: ``--ntasks-per-node`` =
``train.devices``, ``--nodes`` = ``train.num_nodes``; every task starts its worker, Lightning's SLURM
environment gives each its rank, and rank 0 decides, trains with the others and reports (task 0's result). A
block's ``resources`` are per task (``cpus``) and per node (``gpus``: one per device).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import submitit
from submitit.slurm.slurm import _make_sbatch_string  # the script submitit itself writes for an array

from icdbench.errors import UserError
from icdbench.grid.process import Outcome, run_in_subprocess
from icdbench.grid.spec import GridRun, Resources

DEFAULT_TIME_MIN = 60


class GridJob(submitit.helpers.Checkpointable):
    """One array task; on a timeout submitit requeues it with the same run (which then resumes)."""

    def __call__(self, run: GridRun, log: str, env: dict[str, str]) -> Outcome:
        return run_in_subprocess(run.ticket(), log, env)


@dataclass(frozen=True)
class Shape:
    """What one array task of a run asks SLURM for: its resources, and its tasks per node and nodes (DDP)."""

    resources: Resources
    tasks_per_node: int = 1
    nodes: int = 1


def shape(run: GridRun) -> Shape:
    train = run.train_config()
    if train.devices * train.num_nodes == 1:
        return Shape(run.resources)
    return Shape(run.resources, int(train.devices), int(train.num_nodes))


def sbatch_parameters(request: Shape, settings: dict, name: str) -> dict:
    """sbatch settings (submitit's names) for one request; ``settings``: partition, account, qos, constraint,
    array_parallelism from the grid file or the flags (flags win)."""
    resources = request.resources
    params = {"job_name": f"icdbench-{name}", "time": resources.time_min or DEFAULT_TIME_MIN,
              "cpus_per_task": resources.cpus, "ntasks_per_node": request.tasks_per_node,
              "nodes": request.nodes}  # fmt: skip
    if resources.gpus:
        params["gpus_per_node"] = resources.gpus
    if resources.mem_gb:
        params["mem"] = f"{int(resources.mem_gb)}GB" if resources.mem_gb == int(resources.mem_gb) else \
            f"{int(resources.mem_gb * 1024)}MB"  # fmt: skip
    for key in ("partition", "account", "qos", "constraint", "array_parallelism"):
        if settings.get(key) is not None:
            params[key] = settings[key]
    if settings.get("extra"):
        params["additional_parameters"] = dict(settings["extra"])
    return params


def groups(runs: list[GridRun]) -> dict[Shape, list[GridRun]]:
    out: dict[Shape, list[GridRun]] = {}
    for run in runs:
        out.setdefault(shape(run), []).append(run)
    return out


def sbatch_scripts(runs: list[GridRun], settings: dict, name: str, folder: Path) -> list[str]:
    """The sbatch script of each array ``run_slurm`` would submit (``--dry-run``)."""
    command = " ".join([sys.executable, "-u -m submitit.core._submit", str(folder)])
    return [_make_sbatch_string(command=command, folder=folder, map_count=len(members),
                                **sbatch_parameters(request, settings, name))
            for request, members in groups(runs).items()]  # fmt: skip


def _executor(cluster: str, folder: Path, request: Shape, settings: dict, name: str):
    if cluster == "local":
        if request.tasks_per_node * request.nodes > 1:
            raise UserError("submitit's local executor does not set SLURM's ranks; run a DDP run with "
                            "--slurm-cluster slurm, or with the local launcher (Lightning starts its processes)")
        executor = submitit.LocalExecutor(folder)
        resources = request.resources
        executor.update_parameters(timeout_min=resources.time_min or DEFAULT_TIME_MIN, gpus_per_node=resources.gpus)
        return executor
    executor = submitit.SlurmExecutor(folder)
    executor.update_parameters(**sbatch_parameters(request, settings, name))
    return executor


def run_slurm(runs: list[GridRun], logs: dict[str, Path], env: dict[str, str], settings: dict, name: str,
              folder: Path, cluster: str, progress) -> tuple[list[Outcome], bool]:  # fmt: skip
    """Submit ``runs`` as job arrays and wait for them; outcomes come back through submitit's result files."""
    jobs = {}
    for request, members in groups(runs).items():
        executor = _executor(cluster, folder, request, settings, name)
        with executor.batch():
            submitted = [(executor.submit(GridJob(), run, str(logs[run.key]), env), run) for run in members]
        jobs.update({id(job): (job, run) for job, run in submitted})
    outcomes: list[Outcome] = []
    progress.message(f"grid: submitted {len(runs)} run(s) in {len(groups(runs))} array(s); submitit files: {folder}")

    def running() -> int:
        return sum(job.state == "RUNNING" for job, _ in jobs.values())

    progress.started(running())
    while jobs:
        for key, (job, run) in list(jobs.items()):
            if not job.done():
                continue
            del jobs[key]
            try:
                outcome = job.results()[0]  # task 0 (a DDP run's rank 0) reports the run
            except Exception as exc:  # the job died outside the run (node failure, cancelled, out of memory)
                error = f"SLURM job {job.job_id}: {type(exc).__name__}: {str(exc).strip().splitlines()[-1][:300]}"
                outcome = Outcome(run.key, "failed", run.command, str(logs[run.key]), error)
            outcomes.append(outcome)
            progress.finished(outcome, running())
        progress.started(running())
        time.sleep(1.0)
    return outcomes, False
