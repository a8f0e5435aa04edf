"""The grid's engines side by side (issue 19): the same 8-run ci grid on the local pool (2 workers) and on a local
Ray instance (2 CPUs), in one invocation; reports each wall time and Ray's over the local pool's (target: Ray
overhead <= 10%), and checks that both wrote the same metrics.

Each launcher writes into its own fresh RUNS_DIR (so nothing is skipped); synth-tiny is prepared once under
DATA_DIR (from the environment, else a scratch folder) before either starts. The wall time is the whole
``icdbench grid`` call: for Ray it includes starting and stopping the instance. ``--repeat N`` alternates the two
N times (local, ray, local, ray, ...) so that load on a shared machine hits both alike.

    python benchmarks/perf/grid.py [--models lr,prior,caml,cnn] [--seeds 0,1] [--cpus 2] [--repeat 1]
        [--out grid.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

from icdbench.io import format_table
from icdbench.results.record import read_record_file


def _grid_file(folder: Path, models: list[str], seeds: list[int]) -> Path:
    path = folder / "perf-grid.yaml"
    path.write_text(yaml.safe_dump({"threads": 1, "resources": {"cpus": 1}, "runs": [
        {"models": models, "splits": ["synth-tiny"], "profiles": ["ci"], "seeds": seeds}]}))  # fmt: skip
    return path


def _metrics(runs_dir: Path) -> dict:
    out = {}
    for path in sorted(runs_dir.glob("synth-tiny/*/*/record.json")):
        record = read_record_file(path)
        out[f"{record.model}/seed{record.seed}"] = record.metrics
    return out


def _one(launcher: str, grid: Path, runs_dir: Path, cpus: int) -> float:
    from icdbench.cli import main

    os.environ["RUNS_DIR"] = str(runs_dir)
    start = time.perf_counter()
    code = main(["grid", str(grid), "--launcher", launcher, "--cpus", str(cpus)])
    wall = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"grid.py: the {launcher} launcher exited {code}")
    return wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="lr,prior,caml,cnn")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    models, seeds = args.models.split(","), [int(s) for s in args.seeds.split(",")]
    scratch = Path(tempfile.mkdtemp(prefix="icdbench-perf-grid-"))
    os.environ.setdefault("DATA_DIR", str(scratch / "data"))
    os.environ.setdefault("CI", "true")
    from icdbench.datasets.prepared import ensure_split

    ensure_split("synth-tiny")
    grid = _grid_file(scratch, models, seeds)
    walls: dict[str, list[float]] = {"local": [], "ray": []}
    metrics = {}
    for round_ in range(args.repeat):
        for launcher in ("local", "ray"):
            runs_dir = scratch / f"runs-{launcher}-{round_}"
            walls[launcher].append(_one(launcher, grid, runs_dir, args.cpus))
            metrics.setdefault(launcher, _metrics(runs_dir))
    same = metrics["local"] == metrics["ray"] and len(metrics["local"]) == len(models) * len(seeds)
    local, ray = statistics.median(walls["local"]), statistics.median(walls["ray"])
    rows = [["local", f"{args.cpus} workers", " ".join(f"{w:.0f}" for w in walls["local"]), f"{local:.1f}", "1.00"],
            ["ray", f"{args.cpus} CPUs", " ".join(f"{w:.0f}" for w in walls["ray"]), f"{ray:.1f}",
             f"{ray / local:.2f}"]]  # fmt: skip
    print(f"\n{len(models) * len(seeds)} runs ({', '.join(models)} x seeds {args.seeds}) on synth-tiny at the ci "
          f"profile, one torch thread each; {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load "
          f"{os.getloadavg()[0]:.1f} at the end")  # fmt: skip
    print(format_table(["launcher", "size", "wall s (each round)", "median s", "ratio"], rows, numeric={3, 4}))
    print(f"Ray overhead: {100 * (ray / local - 1):+.1f}%; metrics equal: {'yes' if same else 'NO'}")
    if args.out:
        args.out.write_text(json.dumps({"walls": walls, "ratio": ray / local, "metrics_equal": same}, indent=2))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
