"""Evidence evaluation of a finished run: the trained model's attributions on the test part of a split with gold
evidence → the ``evidence_*`` keys (:mod:`icdbench.metrics.functional.evidence`).

Only the correctly predicted codes with gold evidence are evaluated (``cases_to_explain``), so only their
attributions are kept. Attributions come from ``ModelOutput.attributions`` with ``want_attributions`` set:
``[B, C, T]`` over tokens (words or subword segments) or, for the sentence tagger, ``[B, C, N]`` over sentences
times its word attention ``extras["word_attention"]`` ``[B, N, L]``, so every model is scored over text
positions. Each position is mapped back to raw-text offsets by the input encoding (``positions``). Text is
read from the split in memory; nothing is written.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Subset

from icdbench.config import load_run_config
from icdbench.datasets.datamodule import Collator, PartDataset
from icdbench.datasets.prepared import ensure_split, recorded_split_dir
from icdbench.datasets.storage import load_split
from icdbench.errors import UserError
from icdbench.metrics.functional.evidence import DocumentAttributions, cases_to_explain, evidence_report
from icdbench.metrics.report import decision_threshold
from icdbench.metrics.scores_file import load_scores
from icdbench.models.base import as_output
from icdbench.models.registry import get_model
from icdbench.results.record import CONFIG_FILE, SCORES_FILE, THRESHOLD_FILE, read_run
from icdbench.training.job import MODEL_FILE, RunJob
from icdbench.training.predict import decisions
from icdbench.training.weights import load_model_weights

EVIDENCE_BATCH = 4  # documents per forward pass: label attention is [B, C, T]


def has_gold_evidence(frame) -> bool:
    return "evidence" in frame.columns and int(frame["evidence"].list.len().sum() or 0) > 0


def _code_attribution(output, row: int, code: int) -> np.ndarray:
    """``[P]`` attribution of one code for one document of the batch."""
    weights = output.attributions[row, code].float()
    if "word_attention" in output.extras:  # sentence-level attribution times the words' attention
        weights = weights[:, None] * output.extras["word_attention"][row].float()
    return weights.reshape(-1).cpu().numpy()


@torch.no_grad()
def collect_attributions(
    model: torch.nn.Module, datamodule, part: str, wanted: dict[int, list[int]], batch_size: int = EVIDENCE_BATCH
) -> dict[int, DocumentAttributions] | None:
    """Row -> attributions of the ``wanted`` codes for the rows of ``part``; None if the model exposes none."""
    if not isinstance(model, torch.nn.Module) or not hasattr(model, "want_attributions"):
        return None
    frame = datamodule.split.part(part)
    texts = frame["text"].to_list()
    sentences = frame["sentences"].to_list() if "sentences" in frame.columns else [None] * frame.height
    encoded, inputs = datamodule.part(part), datamodule.inputs
    loader = DataLoader(
        Subset(PartDataset(encoded, inputs), sorted(wanted)),
        batch_size=batch_size,
        collate_fn=Collator(encoded, inputs, datamodule.ctx.n_codes),
    )
    device = next(model.parameters()).device
    model.eval()
    model.want_attributions = True
    out: dict[int, DocumentAttributions] = {}
    try:
        for batch in loader:
            batch = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
            output = as_output(model(batch))
            if output.attributions is None:
                return None
            for i, row in enumerate(batch["doc_index"].tolist()):
                positions = inputs.positions(texts[row], sentences[row], batch)
                per_code = {c: _code_attribution(output, i, c) for c in wanted[row]}
                out[row] = DocumentAttributions(positions, per_code)
    finally:
        model.want_attributions = False
    return out


def predicted_codes(scored_part, threshold, n_rows: int) -> np.ndarray:
    """``[n_rows, C]`` bool decisions of the run's tuned ``threshold`` for the rows of a scored part."""
    scores = torch.as_tensor(scored_part.scores)
    if isinstance(threshold, (float, int, np.ndarray)):
        threshold = torch.as_tensor(threshold, dtype=torch.float64)
    decided = (scores >= decision_threshold(threshold, scores)).numpy()
    out = np.zeros((n_rows, scores.shape[1]), dtype=bool)
    out[scored_part.doc_index] = decided
    return out


def evidence_keys(job, predicted: np.ndarray, model: torch.nn.Module | None = None) -> dict[str, float]:
    """The ``evidence_*`` keys of a finished run on its split's test part, or ``{}`` when the split has no gold
    evidence or the model exposes no attributions. ``predicted`` ``[test rows, C]`` bool are the run's decisions
    (:func:`predicted_codes`); ``model`` defaults to the run's saved ``model.pt``."""
    frame = job.split.test
    if job.spec.trainer == "sklearn" or not has_gold_evidence(frame):
        return {}
    datamodule = job.datamodule()
    if model is None:
        model = saved_model(job, datamodule)
    wanted = cases_to_explain(frame, job.split.code_list, predicted)
    attributions = collect_attributions(model, datamodule, "test", wanted)
    if attributions is None:
        return {}
    return evidence_report(frame, job.split.code_list, attributions, predicted)


def saved_model(job, datamodule) -> torch.nn.Module:
    """The run's evaluated weights (``model.pt``) in the model its config builds."""
    model = job.spec.build(job.model_config(), datamodule.ctx)
    load_model_weights(model, job.run_dir / MODEL_FILE)
    return model


def finished_run_job(run_dir: Path):
    """``(job, predicted)`` of a finished run folder: its job on the split in DATA_DIR (checked to be the one it
    was trained on) and its test decisions ``[test rows, C]`` bool from its saved scores and threshold."""
    run_dir = Path(run_dir)
    record = read_run(run_dir)
    spec = get_model(record.model)
    ensure_split(record.split)
    split = load_split(recorded_split_dir(record.split, record.fold))
    expected = record.split_hashes.content_sha256
    if expected and split.manifest.get("content_sha256") != expected:
        raise UserError(f"{split.path} is not the {split.name} that {run_dir} was trained on (content differs)")
    doc_ids, codes, scores = load_scores(run_dir / SCORES_FILE)
    if list(codes) != split.code_list:
        raise UserError(f"{run_dir / SCORES_FILE} does not score the label set of {split.name}")
    row_of = {doc_id: row for row, doc_id in enumerate(split.test["doc_id"].to_list())}
    predicted = np.zeros((split.test.height, len(codes)), dtype=bool)
    predicted[[row_of[d] for d in doc_ids]] = decisions(scores, json.loads((run_dir / THRESHOLD_FILE).read_text()))
    cfg = load_run_config(run_dir / CONFIG_FILE, spec)
    return RunJob(spec, split, cfg, run_dir, record.run_id), predicted
