"""Where a number came from: code version, library versions, device, resources (DESIGN.md §8)."""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import sys
from importlib import metadata

import torch

from icdbench.paths import REPO_ROOT

LIBRARIES = (
    "torch", "pytorch-lightning", "torchmetrics", "transformers", "tokenizers", "gensim", "scikit-learn",
    "numpy", "polars", "omegaconf",
)  # fmt: skip


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def git_state() -> dict:
    """Commit of the code that ran and whether tracked files differed from it (``dirty``)."""
    commit = _git("rev-parse", "HEAD")
    if commit is None:
        return {"git_commit": None, "git_dirty": None}
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {"git_commit": commit, "git_dirty": bool(status)}


def library_versions() -> dict:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    try:
        versions["icdbench"] = metadata.version("icdbench")
    except metadata.PackageNotFoundError:
        versions["icdbench"] = None
    return versions


def cpu_model() -> str:
    """The processor's model name (``/proc/cpuinfo`` on Linux, where ``platform.processor()`` is often empty),
    else the architecture."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_description(accelerator: str = "auto") -> str:
    """The device a run trained on. On a CPU it names the processor and the vector instructions torch uses
    (AVX2, AVX512, ...): the same 2 cores can differ ~2x in throughput between processors, and a run under a
    time budget (``train.max_minutes``) trains that many fewer epochs on the slower one."""
    if accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available():
        return f"cuda: {torch.cuda.get_device_name(0)} x{torch.cuda.device_count()}"
    simd = torch.backends.cpu.get_cpu_capability()
    return f"cpu: {cpu_model()} ({simd}), {torch.get_num_threads()} threads, {os.cpu_count()} cores"


def peak_memory() -> dict:
    """Peak resident memory of this process (MiB) and, on GPU, the peak CUDA memory allocated."""
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rss_mib = rss_kib / 1024 if sys.platform != "darwin" else rss_kib / 1024 / 1024  # macOS reports bytes
    out = {"peak_rss_mib": round(rss_mib, 1)}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        out["cuda_max_allocated_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return out


def provenance(accelerator: str = "auto") -> dict:
    return {
        **git_state(),
        "versions": library_versions(),
        "device": device_description(accelerator),
        "platform": platform.platform(),
    }
