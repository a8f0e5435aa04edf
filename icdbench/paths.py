"""Where data, runs and repository resources live."""

import os
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_ROOT.parent


def data_dir() -> Path:
    """Prepared splits: ``$DATA_DIR`` or ``./data`` in the working directory."""
    return Path(os.environ.get("DATA_DIR") or "data")


def runs_dir() -> Path:
    """Run outputs: ``$RUNS_DIR`` or ``./runs`` in the working directory."""
    return Path(os.environ.get("RUNS_DIR") or "runs")


def benchmarks_dir() -> Path:
    """Profiles and per-split experiment settings (``benchmarks/`` of the repository)."""
    return Path(os.environ.get("ICDBENCH_BENCHMARKS") or REPO_ROOT / "benchmarks")
