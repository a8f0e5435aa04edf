"""Training on train + val with every choice fixed from a train→val run (the published setting of shared tasks
that trained on train + dev and scored test once, e.g. CodiEsp).

``data.train_parts=train,val`` trains on both parts. Nothing can then be chosen on the validation documents
(they are training data) and nothing may be chosen on test, so ``train.fixed_from=RUN_DIR`` names a finished
run of the same model on the same split with ``data.train_parts=train``, and its dev-chosen values are reused:

- Lightning models train exactly as many epochs as that run's evaluated weights had seen (its selected epoch
  + 1, or all its epochs when it averaged weights), keep the final weights and never stop early;
- fitted models (the linear baselines) fit only the grid setting that run chose (e.g. its ``C``);
- the decision threshold is that run's ``threshold.json`` (validation scores of a model trained on them would
  tune it to the training data).

The record keeps the parts, the reference run and what was fixed (``training``) and says whether the setting
is the split's published one (``comparable_to_published``: the split manifest's ``comparable_to_published``
and its ``published_train_parts``, ``["train"]`` unless the manifest says otherwise).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from icdbench.datasets.splitting import code_counts
from icdbench.errors import UserError
from icdbench.metrics.thresholds import TopK
from icdbench.results.record import THRESHOLD_FILE, read_run

TRAIN_PARTS = {"train": ("train",), "train,val": ("train", "val"), "train,dev": ("train", "val")}


def train_parts(cfg) -> tuple[str, ...]:
    value = str(cfg.data.train_parts).replace(" ", "")
    if value not in TRAIN_PARTS:
        raise UserError(f"data.train_parts={cfg.data.train_parts!r} is not one of {', '.join(TRAIN_PARTS)}")
    return TRAIN_PARTS[value]


def comparable_to_published(manifest: dict, parts: tuple[str, ...]) -> bool:
    """Whether a run on these training parts is in the setting the split's published numbers used."""
    published = tuple(manifest.get("published_train_parts", ["train"]))
    return bool(manifest.get("comparable_to_published", False)) and parts == published


@dataclass(frozen=True)
class FixedChoices:
    """What a train→val run chose on validation, reused by a train+val run."""

    run_dir: str
    run_id: str
    epochs: int | None  # Lightning: epochs to train; None for fitted models
    setting: dict[str, Any] | None  # fitted models: the chosen grid setting; None for Lightning
    threshold: dict  # the reference's threshold.json ({"rule", "value", "top_k"})
    stop_reason: str | None  # the reference's: the epochs came from its selection

    def record(self) -> dict:
        out = {"fixed_from": self.run_id, "fixed_from_dir": self.run_dir, "threshold_rule": self.threshold["rule"]}
        return {**out, **({"epochs": self.epochs} if self.epochs else {}), **({"setting": self.setting} if
                                                                            self.setting else {})}

    def layer_values(self) -> dict:
        """Config values the run must use: the epoch count, with patience that cannot end training earlier."""
        if self.epochs is None:
            return {}
        return {"optim": {"epochs": self.epochs}, "train": {"patience": self.epochs + 1}}


def fixed_choices(spec, split_name: str, manifest: dict, cfg) -> FixedChoices | None:
    """The choices a train+val run reuses (None for a train-only run); one-line errors for a bad reference."""
    parts = train_parts(cfg)
    if parts == ("train",):
        if cfg.train.fixed_from:
            raise UserError("train.fixed_from only applies with data.train_parts=train,val; drop it")
        return None
    if spec.trainer == "custom":
        raise UserError(f"{spec.name} trains in stages with their own selection; data.train_parts=train,val is "
                        "offered for Lightning and fitted models only")
    if not cfg.train.fixed_from:
        raise UserError(f"data.train_parts=train,val trains on the validation documents, so nothing can be chosen "
                        f"on them: add train.fixed_from=RUN_DIR, a finished run of {spec.name} on {split_name} "
                        "with data.train_parts=train, whose epochs or setting and threshold are reused")
    ref = Path(str(cfg.train.fixed_from))
    record = read_run(ref)
    ref_parts = str(record.config.get("data", {}).get("train_parts", "train")).replace(" ", "")
    problem = (f"a run of {record.model}, not {spec.name}" if record.model != spec.name else
               f"a run on {record.split}, not {split_name}" if record.split != split_name else
               "a run on other content of the split" if record.split_hashes.content_sha256
               != manifest.get("content_sha256") else
               f"trained on {ref_parts}: its choices saw the validation documents" if ref_parts != "train" else "")
    if problem:
        raise UserError(f"train.fixed_from={ref} is {problem}; name a run of {spec.name} on {split_name} with "
                        "data.train_parts=train")
    threshold = json.loads((ref / THRESHOLD_FILE).read_text()) if (ref / THRESHOLD_FILE).is_file() else None
    if not isinstance(threshold, dict) or "rule" not in threshold:
        raise UserError(f"train.fixed_from={ref} has no readable {THRESHOLD_FILE}; is it a finished run?")
    epochs, setting = None, None
    if spec.trainer == "sklearn":
        setting = (record.extra or {}).get("chosen")
    else:
        selected = record.convergence.selected_epoch
        epochs = int(selected) + 1 if selected is not None else int(record.epochs_run or 0)
        if epochs < 1:
            raise UserError(f"train.fixed_from={ref} records no trained epoch to reuse")
    # a reference from before stop reasons says none: the run's own reason stands
    stop_reason = record.stop_reason if record.recorded("stop_reason") else None
    return FixedChoices(str(ref), record.run_id, epochs, setting, threshold, stop_reason)


def with_val_in_train(split):
    """The split with its validation documents appended to train; ``train_count`` counts both parts (it feeds
    the prior, the top-50 codes and the unseen-code metrics, which must see what the model trained on)."""
    train = pl.concat([split.train, split.val], how="diagonal_relaxed")
    counts = code_counts(train)
    codes = split.codes.with_columns(
        pl.col("code").replace_strict(counts, default=0, return_dtype=split.codes["train_count"].dtype)
        .alias("train_count"))
    return replace(split, train=train, codes=codes)


def saved_threshold(threshold: dict):
    """A ``threshold.json`` back as the value :func:`icdbench.metrics.evaluate` takes."""
    # heavy: torch, only when a saved threshold is read back
    import torch


    if threshold["rule"] == "top_k":
        return TopK(int(threshold["top_k"]))
    value = threshold["value"]
    return torch.as_tensor(np.asarray(value, dtype=np.float64)) if isinstance(value, list) else float(value)
