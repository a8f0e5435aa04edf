"""Evidence evaluation of a finished run: the trained model's attributions on the test part of a split with gold
evidence → the ``evidence_*`` keys (:mod:`icdbench.metrics.functional.evidence`).

Only the correctly predicted codes with gold evidence are evaluated (``cases_to_explain``), so only their
attributions are kept. Attributions come from ``ModelOutput.attributions`` with ``want_attributions`` set:
``[B, C, T]`` over tokens (words or subword segments) or, for the sentence tagger, ``[B, C, N]`` over sentences
times its word attention ``extras["word_attention"]`` ``[B, N, L]``, so every model is scored over text
positions. Each position is mapped back to raw-text offsets the way its input kind encoded the note. Text is
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
from icdbench.datasets.text import clean_with_offsets, tokenize_with_offsets
from icdbench.errors import UserError
from icdbench.metrics.functional.evidence import DocumentAttributions, cases_to_explain, evidence_report
from icdbench.metrics.report import decision_threshold
from icdbench.metrics.scores_file import load_scores
from icdbench.models.base import as_output
from icdbench.models.registry import get_model
from icdbench.results.record import CONFIG_FILE, SCORES_FILE, THRESHOLD_FILE, read_record
from icdbench.training.job import MODEL_FILE, RunJob
from icdbench.training.predict import decisions
from icdbench.training.weights import load_model_weights

EVIDENCE_BATCH = 4  # documents per forward pass: label attention is [B, C, T]


def has_gold_evidence(frame) -> bool:
    return "evidence" in frame.columns and int(frame["evidence"].list.len().sum() or 0) > 0


def word_positions(text: str, max_tokens: int, width: int) -> np.ndarray:
    """``[width, 2]`` raw offsets of the ``words`` input's positions (-1 beyond the document)."""
    located = tokenize_with_offsets(text)[: min(max_tokens, width)]
    out = np.full((width, 2), -1, dtype=np.int64)
    if located:
        out[: len(located)] = [(start, end) for _, start, end in located]
    return out


def segment_positions(text: str, inputs, n_segments: int) -> np.ndarray:
    """``[n_segments · segment_length, 2]`` raw offsets of the ``segments`` input's subword positions (special
    tokens and padding -1). Subwords are located in the cleaned text by the tokenizer's offset mapping and
    moved back to raw text through :func:`icdbench.datasets.text.clean_with_offsets`."""
    length = inputs.segment_length
    out = np.full((n_segments * length, 2), -1, dtype=np.int64)
    if not inputs.tokenizer.is_fast:  # only fast tokenizers report offsets; no position is located
        return out
    cleaned, raw_to_clean = clean_with_offsets(text)
    clean_to_raw = np.full(len(cleaned) + 1, -1, dtype=np.int64)
    kept = np.flatnonzero(raw_to_clean >= 0)
    clean_to_raw[raw_to_clean[kept]] = kept
    encoded = inputs.tokenizer(cleaned, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    offsets = encoded["offset_mapping"][: inputs.body * inputs.max_segments]
    for i, (start, end) in enumerate(offsets):
        segment, within = divmod(i, inputs.body)
        if segment >= n_segments or end <= start:
            continue
        raw_start, raw_last = clean_to_raw[start], clean_to_raw[end - 1]
        if raw_start >= 0 and raw_last >= 0:
            out[segment * length + len(inputs.prefix) + within] = (raw_start, raw_last + 1)
    return out


def sentence_positions(text: str, sentences, inputs, n_sentences: int, width: int) -> np.ndarray:
    """``[n_sentences · width, 2]`` raw offsets of the ``sentences`` input's (sentence, word) positions."""
    layout = inputs.layout(text, sentences)
    out = np.full((n_sentences, width, 2), -1, dtype=np.int64)
    for n in range(min(layout.n_sentences, n_sentences)):
        lo, hi = layout.bounds[n], layout.bounds[n + 1]
        out[n, : hi - lo] = layout.token_spans[lo:hi]
    return out.reshape(-1, 2)


def _positions(inputs, batch: dict, text: str, sentences) -> np.ndarray:
    if inputs.kind == "words":
        return word_positions(text, inputs.max_tokens, batch["input_ids"].shape[1])
    if inputs.kind == "segments":
        return segment_positions(text, inputs, batch["input_ids"].shape[1])
    n, width = batch["sentence_ids"].shape[1:]
    return sentence_positions(text, sentences, inputs, n, width)


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
                positions = _positions(inputs, batch, texts[row], sentences[row])
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
    record = read_record(run_dir)
    spec = get_model(record["model"])
    ensure_split(record["split"])
    split = load_split(recorded_split_dir(record))
    expected = (record.get("split_hashes") or {}).get("content_sha256")
    if expected and split.manifest.get("content_sha256") != expected:
        raise UserError(f"{split.path} is not the {split.name} that {run_dir} was trained on (content differs)")
    doc_ids, codes, scores = load_scores(run_dir / SCORES_FILE)
    if list(codes) != split.code_list:
        raise UserError(f"{run_dir / SCORES_FILE} does not score the label set of {split.name}")
    row_of = {doc_id: row for row, doc_id in enumerate(split.test["doc_id"].to_list())}
    predicted = np.zeros((split.test.height, len(codes)), dtype=bool)
    predicted[[row_of[d] for d in doc_ids]] = decisions(scores, json.loads((run_dir / THRESHOLD_FILE).read_text()))
    cfg = load_run_config(run_dir / CONFIG_FILE, spec)
    return RunJob(spec, split, cfg, run_dir, str(record.get("run_id", run_dir.name))), predicted
