"""Factories for the results tests: run records shaped exactly like the training core's ``record.json``
(``icdbench.training.evaluation.finish_run``), without training anything.

Import from the test modules: ``from fake_records import fake_record, write_run``. A fake record is the JSON
object (a dict, for tests to change); :func:`loaded` and :func:`commit_all` read it as a ``RunRecord``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from icdbench.metrics.keys import METRICS
from icdbench.results.record import RECORD_SCHEMA, RunRecord
from icdbench.results.sources import LoadedRecord, commit_record

KEYS = [key for key, info in METRICS.items() if info.higher_is_better is not None]


def fake_record(model: str, split: str = "synth-icd10", profile: str = "cpu", seed: int = 0, *, base: float = 0.5,
                shift: float = 0.0, top50_shift: float = 0.1, curves: bool = True, fold: int | None = None,
                stop_reason: str | None = "converged") -> dict:
    """A finished run's record: every metric key in both settings (``base + shift``, jittered per key and seed),
    bootstrap CIs for the record's headline keys, config, provenance and timing, and why training stopped
    (``stop_reason`` with its ``convergence`` block; None: a record from before they existed, with neither)."""
    rng = random.Random(f"{model}/{split}/{seed}")
    full = {key: round(min(1.0, base + shift + rng.uniform(-0.01, 0.01)), 6) for key in KEYS}
    top50 = {key: round(min(1.0, value + top50_shift), 6) for key, value in full.items()}
    ci = {setting: {key: {"estimate": values[key], "low": values[key] - 0.03, "high": values[key] + 0.03,
                          "std": 0.015} for key in ("micro_f1", "macro_f1", "p@8")}
          for setting, values in (("full", full), ("top50", top50))}  # fmt: skip
    record = {
        "schema": RECORD_SCHEMA,
        "run_id": f"20250101-000000-{profile}-seed{seed}",
        "model": model,
        "family": model,
        "split": split,
        "split_version": "1.0.0",
        "split_hashes": {"content_sha256": "ab" * 32},
        "profile": profile,
        "seed": seed,
        "command": f"icdbench bench {model} {split} --profile {profile} --seeds {seed}",
        "config": {"model": {"name": model}, "optim": {"lr": 0.001}, "seed": seed},
        "config_hash": f"{seed:02d}" * 32,
        "provenance": {"git_commit": "0123456789abcdef", "git_dirty": False,
                       "versions": {"icdbench": "0.1.0", "torch": "2.13.0"}, "device": "cpu: x86_64"},
        "timing": {"wall_seconds": 10.0 + seed, "train_docs_per_s": 100.0, "inference_ms_per_doc": 2.5},
        "n_parameters": 1000 + len(model),
        "metrics": {"full": full, "top50": top50},
        "ci": ci,
    }  # fmt: skip
    if fold is not None:
        record["fold"] = fold
    if stop_reason is not None:
        improving = stop_reason == "budget"  # a budget stop ends while the monitor still rises
        curve = [{"epoch": e, "monitor": round(base * (0.6 + 0.1 * e) if improving or e < 3 else base * 0.8, 6),
                  "val_loss": round(0.2 - 0.01 * e, 6)} for e in range(5)]  # fmt: skip
        selected = 4 if improving else 2
        record["stop_reason"] = stop_reason
        record["convergence"] = {"monitor": "val/map_doc", "selected": selected, "selected_epoch": selected,
                                 "curve": curve, "val_map_doc": base, "prior_val_map_doc": 0.3,
                                 "max_epochs": 5 if improving else 8,
                                 "max_minutes": 15.0}  # fmt: skip
    if curves:
        record["curves"] = {
            "automation": {"coverage": [0.5, 1.0], "emr": [base, base / 2], "jaccard": [base + 0.1, base]},
            "pr": {"recall": [0.0, 0.5, 1.0], "precision": [1.0, base, 0.1]},
        }
    return record


def write_run(runs_dir: Path, record: dict) -> Path:
    """Put ``record`` where the training core writes it: ``RUNS_DIR/<split>/<model>/<run_id>/record.json``."""
    run_dir = runs_dir / record["split"] / record["model"] / record["run_id"]
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "record.json").write_text(json.dumps(record))
    return run_dir


def loaded(records: list[dict], origin: str = "runs") -> list[LoadedRecord]:
    """The records as the leaderboard reads them (no file behind them)."""
    return [LoadedRecord(RunRecord.from_dict(record), None, origin) for record in records]


def commit_all(root: Path, records: list[dict]) -> None:
    for record in records:
        commit_record(RunRecord.from_dict(record), root)
