"""``icdbench list splits|models|metrics`` (listing splits loads no torch)."""

from __future__ import annotations

from pathlib import Path

from icdbench.app.requests import ListRequest
from icdbench.datasets.registry import all_splits, stale_reason
from icdbench.datasets.storage import read_manifest
from icdbench.errors import UserError
from icdbench.io import format_table
from icdbench.models.registry import all_models
from icdbench.paths import data_dir
from icdbench.results.fidelity import fidelity_text


def list_things(request: ListRequest) -> int:
    if request.what == "splits":
        return list_splits()
    if request.what == "models":
        return list_models(request.fidelity)
    return list_metrics()


def _status(split_dir: Path, version: str) -> str:
    try:
        manifest = read_manifest(split_dir, missing_ok=True)
    except UserError:
        return "corrupt"
    if manifest is None:
        return "no"
    found = manifest.get("split_version")
    if found != version:
        return f"stale ({found})"
    return "stale (code)" if stale_reason(manifest.get("split", split_dir.name), manifest) else "yes"


def list_splits() -> int:
    """Name, version, prepared under DATA_DIR?, what source it needs, description."""
    rows = [("split", "version", "prepared", "needs", "description")]
    for name, spec in sorted(all_splits().items()):
        rows.append((name, spec.version, _status(data_dir() / name, spec.version), spec.needs_source or "-",
                     spec.description))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths)) + "  " + row[4])
    print(f"\nDATA_DIR: {data_dir()}")
    return 0


def list_metrics() -> int:
    """Every report key with its direction and one-line definition."""
    # heavy: the metrics package loads torch, which `icdbench list splits` must not
    from icdbench.metrics.keys import METRICS

    width = max(len(key) for key in METRICS)
    direction = {True: "higher", False: "lower", None: "count"}
    print(f"{'key':<{width}}  better  {'family':<14}  definition")
    for key, info in METRICS.items():
        print(f"{key:<{width}}  {direction[info.higher_is_better]:<6}  {info.family:<14}  {info.definition}")
    return 0


def list_models(fidelity: bool = False) -> int:
    """Every registered model with its parameter count at the default config (``fidelity``: each one's paper,
    reference and departures instead)."""
    if fidelity:
        print(fidelity_text())
        return 0
    # heavy: builds every model with torch, which `icdbench list splits|metrics` must not load
    from icdbench.training.nominal import NOMINAL, parameter_count

    rows = []
    for spec in all_models().values():
        count = parameter_count(spec)
        rows.append([spec.name, spec.family, spec.inputs, spec.trainer,
                     "n/a" if count is None else f"{count:,}", spec.paper])  # fmt: skip
    print(format_table(["model", "family", "inputs", "trainer", "parameters", "paper"], rows, numeric={4}))
    print(f"parameters at the default (paper) config for {NOMINAL}")
    return 0
