"""Inference on new text from a finished run folder: codes with scores, the tuned decision and titles.

A run folder is self-contained for this: ``config.yaml``, ``record.json``, ``codes.parquet`` (the label set
with titles), ``threshold.json``, ``model.pt``; word models also need their vocabulary, kept under DATA_DIR.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import torch
from omegaconf import OmegaConf

from icdbench.config import load_run_config
from icdbench.datasets.encodings import load_inputs
from icdbench.errors import UserError
from icdbench.models.base import ModelContext, as_output
from icdbench.models.registry import get_model
from icdbench.results.record import CONFIG_FILE, THRESHOLD_FILE, read_run
from icdbench.training.job import MODEL_FILE
from icdbench.training.weights import load_model_weights, read_weights

RUN_CODES_FILE = "codes.parquet"


def decisions(scores: np.ndarray, threshold: dict) -> np.ndarray:
    """Assigned codes ``[N, C]`` bool under a saved threshold (``{"rule", "value", "top_k"}``)."""
    if threshold["rule"] == "top_k":
        k = int(threshold["top_k"])
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        out = np.zeros_like(scores, dtype=bool)
        np.put_along_axis(out, top, True, axis=1)
        return out
    return scores >= np.asarray(threshold["value"], dtype=np.float32)


def load_run_model(run_dir: Path):
    """``(spec, cfg, model in eval mode, inputs encoding, codes frame, threshold)`` of a finished run.

    Every neural run keeps its evaluated weights (``model.pt``), whichever runner trained it (Lightning,
    or a family's own stages: HMHAN with SMOTE, the sentence tagger). scikit-learn runs keep none: their
    fitted TF-IDF vocabulary is note text and is not written (``icdbench.training.sklearn_runner``)."""
    run_dir = Path(run_dir)
    record = read_run(run_dir)  # refuses missing, corrupt and incompatible (other schema) records
    spec = get_model(record.model)
    if spec.trainer == "sklearn":
        raise UserError(
            f"{spec.name} runs keep no fitted model (a TF-IDF vocabulary is note text and stays in "
            "DATA_DIR); predict and explain work with neural runs"
        )
    for name in (CONFIG_FILE, RUN_CODES_FILE, THRESHOLD_FILE, MODEL_FILE):
        if not (run_dir / name).is_file():
            raise UserError(f"{run_dir} lacks {name}; re-run the training to get a complete run folder")
    cfg = load_run_config(run_dir / CONFIG_FILE, spec)
    state = read_weights(run_dir / MODEL_FILE)  # a damaged model.pt is reported before anything else loads
    try:
        codes = pl.read_parquet(run_dir / RUN_CODES_FILE)
        threshold = json.loads((run_dir / THRESHOLD_FILE).read_text())
        if not isinstance(threshold, dict) or "rule" not in threshold:
            raise ValueError(f"{THRESHOLD_FILE} names no decision rule")
    except (OSError, ValueError, KeyError, TypeError, pl.exceptions.PolarsError) as exc:
        raise UserError(f"{run_dir} has a corrupt {RUN_CODES_FILE} or {THRESHOLD_FILE} ({exc}); re-run it") from None
    ctx = ModelContext(
        codes=codes["code"].to_list(),
        kinds=codes["kind"].to_list(),
        titles=codes["title"].to_list(),
        short_titles=codes["short_title"].to_list(),
        ancestors=codes["ancestors"].to_list(),
        train_counts=codes["train_count"].to_numpy(),
        n_train_docs=int(record.n_train_docs or 1),
        n_demographics=int(record.n_demographics or 0),
    )
    try:
        inputs = load_inputs(spec.inputs, run_dir, cfg)
    except FileNotFoundError as exc:  # the vocabulary lives under DATA_DIR, keyed by the run's place in RUNS_DIR
        raise UserError(
            f"{run_dir} needs {exc.filename}, which is missing; a word model's vocabulary stays under DATA_DIR "
            "and is found by the run's path RUNS_DIR/<split>/<model>/<run_id>: use the run where it was trained"
        ) from None
    inputs.fill_context(ctx)

    model = spec.build(OmegaConf.to_object(cfg.model), ctx)
    load_model_weights(model, run_dir / MODEL_FILE, state)
    model.eval()
    return spec, cfg, model, inputs, codes, threshold


def predict_codes(run_dir: Path, text: str, *, top: int = 15) -> list[dict]:
    """The ``top`` highest-scored codes for one document: ``{code, score, assigned, title}``."""
    _, _, model, inputs, codes, threshold = load_run_model(run_dir)
    frame = pl.DataFrame({"doc_id": ["input"], "text": [text]})
    features = inputs.features(frame, train=False)
    batch = {
        "targets": torch.zeros(1, codes.height),
        "doc_index": torch.zeros(1, dtype=torch.long),
        "age": torch.zeros(1),
        "sex": torch.zeros(1, dtype=torch.long),
        **inputs.collate(features),
    }
    with torch.inference_mode():
        scores = torch.sigmoid(as_output(model(batch)).logits.float()).numpy()
    assigned = decisions(scores, threshold)[0]
    order = np.argsort(-scores[0], kind="stable")[:top]
    titles = codes["title"].to_list()
    return [
        {"code": codes["code"][int(i)], "score": float(scores[0, i]), "assigned": bool(assigned[i]),
         "title": titles[int(i)]}
        for i in order
    ]  # fmt: skip
