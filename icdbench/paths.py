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


def settings_dir() -> Path:
    """Profiles (``profiles/<profile>.yaml``), per-split published settings (``experiments/<split>/<model>.yaml``)
    and grids (``grids/<name>.yaml``): ``$ICDBENCH_SETTINGS`` or the package's own ``settings/``, which the wheel
    ships, so an installed icdbench runs from any folder."""
    return Path(os.environ.get("ICDBENCH_SETTINGS") or PACKAGE_ROOT / "settings")

