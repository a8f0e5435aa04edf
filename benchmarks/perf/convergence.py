"""Convergence of every model at a profile (issue 15): wall time, epochs, stop reason and scores side by side.

Compares, per model, how long one ``icdbench bench`` run takes (wall seconds, training docs/s, and the share of
its cores' time training had: below 1 when other processes shared them, which cuts a time budget's epochs), how
many epochs it trained out of the profile's maximum, which epoch (or linear-model setting) it selected, why it stopped
(``converged``: patience exhausted; ``budget``: max epochs, ``train.max_steps`` or ``train.max_minutes`` reached while
still improving, and which: time, steps or epochs; ``prior``: it ranks the validation codes no better than the label
prior), whether its validation mAP left the prior's, and its test micro-F1 and macro AUC-PR. Rows are sorted by
test micro-F1; the last line counts the stop reasons, and the validation curve of every row that did not converge is
printed below it.

``run`` trains each model in its own child process (``python -m icdbench.cli bench MODEL SPLIT --profile P
--seeds S``), pinned to ``--threads`` cores with the thread pools capped to match and ``CI=true``; DATA_DIR and
RUNS_DIR come from the environment, and the numbers are read back from the run's ``record.json``. A model that
fails is a row saying so (exit code and last stderr line), and the others still run (exit code 1).
``table`` prints the same table from records that exist already: a RUNS_DIR
(``<split>/<model>/<run_id>/record.json``) or committed records (``leaderboards/records``); records written
before stop reasons were recorded show ``unrecorded``.

    python benchmarks/perf/convergence.py run --split synth-icd10 [--models caml,rac] [--profile cpu] [--seed 0]
        [--threads 2] [--timeout SECONDS] [--out results.json] [key=value overrides ...]
    python benchmarks/perf/convergence.py table --records leaderboards/records [--split synth-radiology]
        [--profile cpu] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from icdbench.errors import UserError
from icdbench.io import format_table
from icdbench.paths import runs_dir
from icdbench.results.leaderboard import CONVERGED, stop_reason_order
from icdbench.results.record import Convergence, RunRecord, read_record_file

FAILED = "failed"
CURVE_POINTS = 40  # longer curves show their first and last points only, so a 173-epoch run stays on one line
CURVE_KEYS = ("epoch", "monitor", "val_loss")  # what is not a setting in a curve point


# --- the machine ---------------------------------------------------------------------------------------------
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cores() -> list[int]:
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else list(range(os.cpu_count() or 1))


def machine() -> str:
    return f"{len(usable_cores())} cores, {cpu_model()}"


# --- rows ----------------------------------------------------------------------------------------------------
def _number(value) -> float | None:
    return float(value) if isinstance(value, int | float) and value == value else None  # NaN is no number


def selected_label(record: RunRecord, block: Convergence) -> str:
    """The selected epoch (``3 (loss)`` when no epoch left the prior and the lowest validation loss chose it), the
    selected setting of a grid search (``C=10``), or how the weights were chosen."""
    if block.selected_epoch is not None:
        return f"{block.selected_epoch} (loss)" if record.selection == "lowest-loss" else str(block.selected_epoch)
    curve, index = block.curve, block.selected
    if index is not None and 0 <= index < len(curve):
        setting = {k: v for k, v in curve[index].items() if k not in CURVE_KEYS}
        return ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in setting.items()) or "n/a"
    # swa-average / final weights have no selected point; a record without the block says nothing
    return str(record.selection or "n/a") if record.recorded("convergence") else "n/a"


def row_from_record(record: RunRecord, path: Path | None = None) -> dict:
    block, config = record.convergence, record.config
    recorded = record.recorded("convergence")  # else the config's budget (a record from before the block)
    return {
        "model": record.model,
        "split": record.split,
        "profile": str(record.profile),
        "seed": record.seed,
        "fold": record.fold,
        "run_id": record.run_id,
        "stop_reason": record.stop_reason,
        "budget_hit": block.budget_hit if recorded else None,
        "wall_seconds": _number(record.timing.wall_seconds),
        "train_docs_per_s": _number(record.timing.train_docs_per_s),
        "cpu_share": _number(record.timing.train_cpu_share),
        "epochs_run": record.epochs_run,
        "max_epochs": block.max_epochs if recorded else (config.get("optim") or {}).get("epochs"),
        "max_minutes": block.max_minutes if recorded else (config.get("train") or {}).get("max_minutes"),
        "selected": selected_label(record, block),
        "monitor": block.monitor or record.best_monitor.name,
        "curve": block.curve if recorded else None,
        "selected_index": block.selected,
        "val_map_doc": _number(block.val_map_doc),
        "prior_val_map_doc": _number(block.prior_val_map_doc),
        "micro_f1": _number(record.metrics.full.get("micro_f1")),
        "macro_auc_pr": _number(record.metrics.full.get("macro_auc_pr")),
        "device": record.provenance.device,
        "record": str(path) if path is not None else None,
        "status": None,
        "error": None,
    }


def failed_row(model: str, split: str, profile: str, seed: int, status: str, error: str = "") -> dict:
    """``status``: how the child ended (``exit 2``, ``timed out``); ``error``: its last stderr line."""
    return {"model": model, "split": split, "profile": profile, "seed": seed, "fold": None, "stop_reason": FAILED,
            "status": status, "error": error}  # fmt: skip


BUDGET_LABELS = {"max_minutes": "time", "max_steps": "steps", "max_epochs": "epochs"}


def _fmt(value, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _sort_key(row: dict):
    # best micro-F1 first; rows without one (failed, missing metric) last, by name
    f1 = row.get("micro_f1")
    return (f1 is None, -(f1 or 0.0), row["model"], row.get("seed") or 0, row.get("fold") or 0)


def render(rows: list[dict], header_line: str) -> str:
    rows = sorted(rows, key=_sort_key)
    # a seed / fold column only where one model has several runs on this table
    replicates = len({r["model"] for r in rows}) < len(rows)
    header = ["model", *(["seed"] if replicates else []), "wall s", "epochs/max", "selected", "stop reason",
              "train docs/s", "cpu share", "val mAP / prior", "test micro-F1", "test macro AUC-PR"]  # fmt: skip
    # a failure's last stderr line goes last, so it does not widen the stop-reason column
    failures = any(row["stop_reason"] == FAILED for row in rows)
    header += ["note"] if failures else []
    cells = []
    for row in rows:
        replicate = [str(row["seed"] if row.get("fold") is None else f"fold {row['fold']}")] if replicates else []
        if row["stop_reason"] == FAILED:
            stop = f"{FAILED} ({row['status']})"
            cells.append([row["model"], *replicate, "-", "-", "-", stop, "-", "-", "-", "-", "-", row["error"]])
            continue
        # linear models fit no epochs (their curve is a grid of settings)
        epochs = "n/a" if row["epochs_run"] is None else f"{row['epochs_run']}/{row['max_epochs'] or '?'}"
        val = row["val_map_doc"]
        # which budget ended it: "time" depends on the machine and its load, "steps" and "epochs" do not
        hit = BUDGET_LABELS.get(row.get("budget_hit"))
        stop = f"{row['stop_reason']} ({hit})" if hit else row["stop_reason"]
        cells.append([
            row["model"], *replicate, _fmt(row["wall_seconds"], 1), epochs, row["selected"], stop,
            _fmt(row["train_docs_per_s"], 1), _fmt(row.get("cpu_share"), 2),
            "n/a" if val is None else f"{val:.4f} / {_fmt(row['prior_val_map_doc'])}",
            _fmt(row["micro_f1"]), _fmt(row["macro_auc_pr"]), *([""] if failures else []),
        ])  # fmt: skip
    numeric = {i for i, name in enumerate(header) if name not in ("model", "selected", "stop reason", "note")}
    counts = Counter(row["stop_reason"] for row in rows)
    order = sorted(counts, key=lambda r: (r == FAILED, stop_reason_order(r)))
    lines = [header_line, format_table(header, cells, numeric=numeric),
             "stop reasons: " + ", ".join(f"{reason} {counts[reason]}" for reason in order)]  # fmt: skip
    open_rows = [row for row in rows if row["stop_reason"] not in (CONVERGED, FAILED)]
    curves = [curve_line(row) for row in open_rows if row.get("curve")]
    # records from before curves were kept: one line naming them, not a line each
    bare = [_name(row) for row in open_rows if not row.get("curve")]
    if curves or bare:
        lines += ["", "validation curves of the runs that did not converge (* = selected):", *curves]
        lines += [f"  no curve recorded: {', '.join(bare)}"] if bare else []
    return "\n".join(lines)


def _name(row: dict) -> str:
    if row.get("fold") is not None:
        return f"{row['model']} fold {row['fold']}"
    return row["model"] + (f" seed {row['seed']}" if row.get("seed") not in (None, 0) else "")


def curve_line(row: dict) -> str:
    """``model [reason] monitor by epoch: 0.101 0.153 0.201* ...; val loss a -> b`` (or per setting, linear)."""
    name, curve = _name(row), row["curve"]
    marks = []
    by_epoch = all("epoch" in point for point in curve)
    for i, point in enumerate(curve):
        value = _fmt(_number(point.get("monitor")), 3) + ("*" if i == row.get("selected_index") else "")
        if not by_epoch:
            setting = ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                               for k, v in point.items() if k not in CURVE_KEYS)  # fmt: skip
            value = f"{setting}:{value}"
        marks.append(value)
    if len(marks) > CURVE_POINTS:
        half = CURVE_POINTS // 2
        marks = [*marks[:half], f"... ({len(marks) - CURVE_POINTS} more) ...", *marks[-half:]]
    where = f"by epoch from {curve[0]['epoch']}" if by_epoch else "per setting"
    line = f"  {name} [{row['stop_reason']}] {row.get('monitor') or 'monitor'} {where}: {' '.join(marks)}"
    losses = [_number(point.get("val_loss")) for point in curve if _number(point.get("val_loss")) is not None]
    if losses:
        line += f"; val loss {losses[0]:.4f} -> {losses[-1]:.4f} (min {min(losses):.4f})"
    return line


def write_out(path: Path | None, rows: list[dict], **info) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**info, "rows": sorted(rows, key=_sort_key)}, indent=1) + "\n")
    print(f"wrote {path}")


# --- table: from existing records -----------------------------------------------------------------------------
def load_records(folder: Path) -> list[tuple[RunRecord, Path]]:
    """Every run record under ``folder`` (a RUNS_DIR, ``leaderboards/records`` or any folder below them); a RUNS_DIR's
    other JSON files (threshold.json) and records this suite cannot read are not."""
    found = []
    for path in sorted(folder.rglob("*.json")):
        try:
            found.append((read_record_file(path), path))
        except (OSError, UserError):
            continue
    return found


def latest(records: list[tuple[RunRecord, Path]]) -> list[tuple[RunRecord, Path]]:
    """One record per (split, profile, model, seed, fold): a re-run replaces the older (run ids start with
    their time stamp), as on the leaderboards."""
    chosen: dict[tuple, tuple[RunRecord, Path]] = {}
    for record, path in sorted(records, key=lambda item: (item[0].run_id, str(item[1]))):
        chosen[(record.split, str(record.profile), record.model, record.seed, record.fold)] = (record, path)
    return list(chosen.values())


def table(args) -> int:
    if not args.records.is_dir():
        print(f"--records {args.records}: no such folder", file=sys.stderr)
        return 2
    records = latest(load_records(args.records))
    records = [(r, p) for r, p in records if (args.split is None or r.split == args.split)
               and (args.profile is None or str(r.profile) == args.profile)]  # fmt: skip
    if not records:
        print(f"no run records under {args.records}" + (f" for split {args.split}" if args.split else ""),
              file=sys.stderr)  # fmt: skip
        return 1
    groups: dict[tuple[str, str], list[dict]] = {}
    for record, path in records:
        groups.setdefault((record.split, str(record.profile)), []).append(row_from_record(record, path))
    for i, ((split, profile), rows) in enumerate(sorted(groups.items())):
        devices = sorted({row["device"] for row in rows if row["device"]})
        # the records say how many threads torch had; the machine they ran on is only what the record says
        threads = sorted({m.group(1) for d in devices if (m := re.search(r"(\d+) threads", d))}, key=int)
        header = (f"{split}, profile {profile}, {'/'.join(threads) or '?'} threads; "
                  f"machine: {' | '.join(devices) or 'unrecorded'} (from {args.records})")  # fmt: skip
        print(("\n" if i else "") + render(rows, header))
    write_out(args.out, [row for rows in groups.values() for row in rows], records=str(args.records))
    return 0


# --- run: one bench per model in a child process -------------------------------------------------------------
def _records_of(split: str, model: str) -> set[Path]:
    return set((runs_dir() / split / model).glob("*/record.json"))


def run_model(model: str, args) -> dict:
    """Bench ``model`` once in a pinned child process; its row (a ``failed`` row when the child fails)."""
    threads = str(args.threads)
    command = [sys.executable, "-m", "icdbench.cli", "bench", model, args.split, "--profile", args.profile,
               "--seeds", str(args.seed), *args.overrides]  # fmt: skip
    env = {**os.environ, "CI": "true", "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads,
           "POLARS_MAX_THREADS": threads, "RAYON_NUM_THREADS": threads, "TOKENIZERS_PARALLELISM": "false"}  # fmt: skip
    # torch takes its thread count from OMP_NUM_THREADS; pinning also keeps other pools (and BLAS) on N cores
    cores = usable_cores()[: args.threads]
    pin = (lambda: os.sched_setaffinity(0, cores)) if hasattr(os, "sched_setaffinity") else None
    before = _records_of(args.split, model)
    start = time.perf_counter()
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, preexec_fn=pin,
                              timeout=args.timeout or None)  # fmt: skip
    except subprocess.TimeoutExpired:
        return failed_row(model, args.split, args.profile, args.seed, "timed out", f"after {args.timeout:g} s")
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        lines = [line for line in (done.stderr or "").splitlines() if line.strip()]
        last = lines[-1].strip() if lines else "no stderr"
        return failed_row(model, args.split, args.profile, args.seed, f"exit {done.returncode}", last)
    # the bench prints its run folders under "...; runs:"; else the record this run added to RUNS_DIR
    listed = [Path(line.strip()) / "record.json" for line in done.stdout.splitlines() if line.startswith("  ")]
    paths = [p for p in listed if p.is_file()] or sorted(_records_of(args.split, model) - before,
                                                         key=lambda p: p.stat().st_mtime)  # fmt: skip
    if not paths:
        return failed_row(model, args.split, args.profile, args.seed, "no record", "exit 0, no record.json written")
    row = row_from_record(read_record_file(paths[-1]), paths[-1])
    row["process_seconds"] = seconds  # start-up and data loading included, unlike the record's wall time
    return row


def run(args) -> int:
    from icdbench.models.registry import all_models

    models = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else sorted(all_models())
    rows = []
    for model in models:
        row = run_model(model, args)
        rows.append(row)
        if row["stop_reason"] == FAILED:
            print(f"{model}: {FAILED} ({row['status']}: {row['error']})", flush=True)
        else:
            print(f"{model}: {row['stop_reason']}, {_fmt(row['wall_seconds'], 1)} s, "
                  f"micro-F1 {_fmt(row['micro_f1'])}", flush=True)  # fmt: skip
    header = f"\n{args.split}, profile {args.profile}, {args.threads} threads; machine: {machine()}"
    print(render(rows, header))
    write_out(args.out, rows, split=args.split, profile=args.profile, seed=args.seed, threads=args.threads,
              machine=machine(), overrides=args.overrides)  # fmt: skip
    return 0 if all(row["stop_reason"] != FAILED for row in rows) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="bench every model (or --models) in child processes, then print the table")
    p.add_argument("--split", default="synth-icd10")
    p.add_argument("--models", help="comma-separated (default: every registered model)")
    p.add_argument("--profile", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2, help="cores each child is pinned to (default 2)")
    p.add_argument("--timeout", type=float, default=0, help="seconds per model before it is a failed row (0: none)")
    p.add_argument("--out", type=Path, help="write the rows as JSON here")
    p.add_argument("overrides", nargs="*", help="extra key=value config overrides for every model")
    p.set_defaults(func=run)
    p = sub.add_parser("table", help="the same table from existing run records; runs nothing")
    p.add_argument("--records", type=Path, required=True, help="a RUNS_DIR or leaderboards/records")
    p.add_argument("--split", help="only this split (default: one table per split and profile)")
    p.add_argument("--profile", help="only this profile")
    p.add_argument("--out", type=Path, help="write the rows as JSON here")
    p.set_defaults(func=table)
    # key=value overrides may follow options, as on the icdbench command line
    args, extra = parser.parse_known_args(argv)
    if extra:
        if args.command != "run" or any("=" not in item or item.startswith("-") for item in extra):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.overrides = [*args.overrides, *extra]
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
