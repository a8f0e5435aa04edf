"""Which process of a DDP run this is, and what its processes must agree on before training (the run folder).

A run with ``train.devices`` × ``train.num_nodes`` > 1 processes is started in one of two ways:

- **by Lightning** (``icdbench train ... train.strategy=ddp train.devices=N`` on one machine): the first process
  starts the others when the fit begins, by running its own command again with ``LOCAL_RANK`` set. They inherit
  its environment, so a value rank 0 decided is passed on as an environment variable;
- **from outside** (``torchrun``, SLURM's ``srun``; Lightning's ``TorchElasticEnvironment`` and
  ``SLURMEnvironment``): every process starts at once and none is the parent of another. Rank 0's value is
  broadcast over ``torch.distributed``; the process group is set up here, before the fit, and Lightning's DDP
  strategy then uses it as it is (it only initialises one when none exists).

Only global rank 0 writes the run's files; every rank reads the run folder (the best checkpoint), so a run over
several nodes needs RUNS_DIR on a filesystem they share.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from icdbench.errors import UserError

# A value rank 0 shares is read by ranks started by Lightning's launcher from ICDBENCH_<NAME>.
ENV_PREFIX = "ICDBENCH_"


@dataclass(frozen=True)
class Rank:
    global_rank: int
    world_size: int
    external: bool  # torchrun or SLURM started every process (else Lightning's launcher, or a single process)

    @property
    def is_zero(self) -> bool:
        return self.global_rank == 0


def _external_environment():
    """Lightning's cluster environment when torchrun or srun started several processes (Lightning's order of
    detection: torchrun first, as it may run inside a SLURM job)."""
    # heavy: Lightning; this module stays light, as the grid driver imports it
    from lightning_fabric.plugins.environments import SLURMEnvironment, TorchElasticEnvironment

    for kind in (TorchElasticEnvironment, SLURMEnvironment):
        if kind.detect():
            environment = kind()
            return environment if environment.world_size() > 1 else None
    return None


def started_externally() -> bool:
    """Whether torchrun or srun started this process as one of several."""
    return _external_environment() is not None


def process_rank(train_cfg) -> Rank:
    """This process's rank in a run configured with ``train_cfg`` (``train.devices`` × ``train.num_nodes``
    processes), checked against what torchrun or SLURM started, in one line before anything is written."""
    processes = int(train_cfg.devices) * int(train_cfg.num_nodes)
    if processes == 1:
        return Rank(0, 1, False)
    environment = _external_environment()
    if environment is not None:
        world = environment.world_size()
        if processes != world:
            raise UserError(f"{world} processes were started (torchrun or srun) but train.devices × train.num_nodes "
                            f"is {processes}; set train.devices to the processes per node and train.num_nodes to "
                            "the nodes")  # fmt: skip
        return Rank(environment.global_rank(), world, True)
    if train_cfg.num_nodes > 1:
        raise UserError("a run over several nodes starts under torchrun or SLURM (srun), which set every process's "
                        "rank; see README, Running the grid on a cluster")  # fmt: skip
    return Rank(int(os.environ.get("LOCAL_RANK") or 0), processes, False)


def _process_group(accelerator: str) -> None:
    """The default process group of an externally started run (gloo for CPU tensors, NCCL for CUDA ones)."""
    import torch  # heavy: only an externally started DDP run needs torch here
    import torch.distributed as dist  # heavy

    if dist.is_initialized():
        return
    environment = _external_environment()
    os.environ["MASTER_ADDR"] = environment.main_address
    os.environ["MASTER_PORT"] = str(environment.main_port)
    cuda = accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())
    if cuda:
        torch.cuda.set_device(environment.local_rank())
    dist.init_process_group("cpu:gloo,cuda:nccl" if cuda else "gloo", rank=environment.global_rank(),
                            world_size=environment.world_size())  # fmt: skip


def share(name: str, rank: Rank, decide: Callable[[], Any], accelerator: str = "auto") -> Any:
    """Rank 0's ``decide()`` on every rank (JSON-serialisable); the other ranks do not call it."""
    variable = ENV_PREFIX + name.upper()
    if rank.world_size == 1:
        return decide()
    if not rank.external:
        if rank.is_zero:
            value = decide()
            os.environ[variable] = json.dumps(value)  # the ranks Lightning starts inherit it
            return value
        if variable not in os.environ:
            raise UserError(f"this process has LOCAL_RANK set but no {variable} from rank 0; start a DDP run with "
                            "icdbench itself, torchrun or srun")  # fmt: skip
        return json.loads(os.environ[variable])
    import torch.distributed as dist  # heavy: only an externally started DDP run gets here

    _process_group(accelerator)
    box = [decide() if rank.is_zero else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def leave_process_group() -> None:
    """Close this process's part of the run's process group once every rank has its scores (a barrier first, so
    no rank closes it while another still gathers). Left to interpreter exit, gloo's threads were sometimes torn
    down while still joinable: rank 1 aborted ("terminate called without an active exception", SIGABRT) and
    torchrun failed a run that had finished (seen once in CI, in tests/training/test_ddp.py)."""
    import torch.distributed as dist  # heavy: only a DDP run has a process group to close

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def forget(name: str) -> None:
    """Drop a shared value once the run is over (the next run in this process decides its own)."""
    os.environ.pop(ENV_PREFIX + name.upper(), None)
