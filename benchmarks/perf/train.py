"""Training throughput (documents/s) and inference latency (ms/document) of every model at the cpu profile.

Each model trains in its own process (``icdbench train MODEL SPLIT --profile cpu``, one epoch by default) so
peak memory is the model's own; the numbers come from the run records. Speeds are also given relative to a
reference model measured in the same invocation (``--reference``, default ``cnn``), which is what to compare
across machines.

    python benchmarks/perf/train.py                       # every registered model, synth-icd10, 1 epoch
    python benchmarks/perf/train.py --models caml,laat --epochs 3 --split synth-tiny

``--against reference`` instead times icdbench's CAML, LAAT, MultiResCNN and PLM-ICD against Edin et al.'s
modules on the same batches and threads (``against_reference.py``, whose docstring lists its options).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from icdbench.io import format_table
from icdbench.models.registry import all_models
from icdbench.results.record import RunRecord, Timing, read_record_file


def run_model(model: str, split: str, epochs: int, runs_dir: Path, extra: list[str]) -> RunRecord | None:
    """Train ``model`` once in a subprocess; its record, or None with the error printed."""
    command = [sys.executable, "-m", "icdbench.cli", "train", model, split, "--profile", "cpu",
               f"optim.epochs={epochs}", "train.logger=none", *extra]  # fmt: skip
    env = {**os.environ, "RUNS_DIR": str(runs_dir), "CI": "true"}
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"{model}: failed ({done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode})")
        return None
    (record_path,) = sorted((runs_dir / split / model).glob("*/record.json"))[-1:]
    return read_record_file(record_path)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--against" in argv:
        import importlib.util

        script = Path(__file__).with_name("against_reference.py")
        spec = importlib.util.spec_from_file_location("against_reference", script)
        against = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(against)
        return against.main(argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="synth-icd10")
    parser.add_argument("--models", help="comma-separated (default: every registered model)")
    parser.add_argument("--epochs", type=int, default=1, help="training epochs per model (default 1)")
    parser.add_argument("--reference", default="cnn", help="model the speed ratios are relative to")
    parser.add_argument("overrides", nargs="*", help="extra key=value config overrides for every model")
    args = parser.parse_args(argv)
    models = args.models.split(",") if args.models else sorted(all_models())
    if args.reference not in models:
        models = [args.reference, *models]

    records: dict[str, RunRecord] = {}
    with tempfile.TemporaryDirectory(prefix="icdbench-perf-train-") as tmp:
        for model in models:
            record = run_model(model, args.split, args.epochs, Path(tmp), args.overrides)
            if record is not None:
                records[model] = record
                timing = record.timing
                print(f"{model}: {timing.train_docs_per_s or 0:.1f} docs/s, "
                      f"{timing.inference_ms_per_doc:.2f} ms/doc", flush=True)  # fmt: skip

    ref = records[args.reference].timing if args.reference in records else Timing()
    rows = []
    for model, record in records.items():
        train_speed, latency = record.timing.train_docs_per_s, record.timing.inference_ms_per_doc
        rows.append([
            model,
            f"{train_speed:.1f}" if train_speed else "n/a",
            f"{train_speed / ref.train_docs_per_s:.2f}" if train_speed and ref.train_docs_per_s else "n/a",
            f"{latency:.2f}",
            f"{latency / ref.inference_ms_per_doc:.2f}" if ref.inference_ms_per_doc else "n/a",
            f"{record.memory['peak_rss_mib']:.0f}",
            f"{record.n_parameters:,}" if record.n_parameters else "n/a",
            f"{record.timing.wall_seconds:.0f}",
        ])  # fmt: skip
    header = ["model", "train docs/s", f"x {args.reference}", "infer ms/doc", f"x {args.reference}",
              "peak RSS MiB", "parameters", "run s"]  # fmt: skip
    print(f"\n{args.split}, cpu profile, {args.epochs} epoch(s); device: "
          f"{next(iter(records.values())).provenance.device if records else 'n/a'}")  # fmt: skip
    print(format_table(header, rows, numeric=set(range(1, len(header)))))
    return 0 if len(records) == len(models) else 1


if __name__ == "__main__":
    sys.exit(main())
