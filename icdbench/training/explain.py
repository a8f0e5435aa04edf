"""``icdbench explain RUN_DIR --doc DOC_ID --method lime|attention``: which words drove each predicted code.

- ``lime``: LIME (Ribeiro et al. 2016; ``lime.lime_text.LimeTextExplainer``), as the HMHAN paper uses it. LIME
  removes words from the note at random, scores the perturbed notes with the run's model and fits a local
  linear model per code; the words with the largest weights explain the code. Works for every model whose
  run keeps its weights (all neural models). The number of perturbed notes is bounded (:data:`LIME_SAMPLES`)
  so one document takes seconds on a CPU for small models; LIME's own HTML page is saved too.
- ``attention``: the model's own attention over the input (``ModelOutput.attributions`` with
  ``want_attributions``), summed per word; for models that attend over tokens.

Explained codes are the codes the run's tuned threshold assigns (the top-scored code if none is assigned), at
most :data:`MAX_CODES`. The result is printed and saved as JSON (and HTML for LIME).

Data protection: explanations quote note words. For the embedded synthetic splits they are written under
``RUN_DIR/explanations/``; for every other split (data under a data-use agreement) they are written under
``DATA_DIR/<split>/explanations/<run_id>/`` instead, so note text never leaves DATA_DIR.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import polars as pl
import torch

from icdbench.datasets.datamodule import Collator, encode_part
from icdbench.datasets.prepared import recorded_split_dir
from icdbench.datasets.registry import get_split
from icdbench.datasets.storage import read_manifest
from icdbench.errors import UserError
from icdbench.io import atomic_write_json, atomic_write_text
from icdbench.models.base import as_output
from icdbench.paths import data_dir
from icdbench.results.record import RunRecord, read_run
from icdbench.training.predict import decisions, load_run_model

LIME_SAMPLES = 300  # perturbed notes per document
LIME_BATCH = 16  # notes per forward pass while LIME scores its perturbations
TOP_WORDS = 10
MAX_CODES = 15
EXPLANATIONS_DIR = "explanations"


def explain_document(run_dir: Path, doc_id: str, method: str = "attention") -> dict:
    """Explain the codes a finished run gives test document ``doc_id`` (``method``: attention or lime), save the
    explanation (module docstring says where) and print it; returns it."""
    run_dir = Path(run_dir)
    spec, cfg, model, inputs, codes, threshold = load_run_model(run_dir)
    record = read_run(run_dir)
    split_name = record.split
    doc = _load_document(split_name, doc_id, record)
    scorer = DocumentScorer(model, inputs, codes.height, doc)
    scores = scorer([doc["text"]])[0]
    chosen = _codes_to_explain(scores, threshold)
    if method == "lime":
        explained, html = explain_lime(scorer, doc["text"], chosen, seed=int(cfg.seed))
    else:
        explained, html = explain_attention(model, scorer, doc["text"], chosen, spec.name), None
    titles = codes["title"].to_list()
    result = {
        "run_id": record.run_id,
        "model": spec.name,
        "split": split_name,
        "doc_id": doc_id,
        "method": method,
        "lime_samples": LIME_SAMPLES if method == "lime" else None,
        "codes": [
            {
                "code": codes["code"][int(c)],
                "title": titles[int(c)],
                "score": float(scores[c]),
                "assigned": bool(assigned),
                "words": [{"word": w, "weight": float(v)} for w, v in explained[c]],
            }
            for c, assigned in chosen
        ],
    }
    synthetic = is_synthetic(split_name)
    out_dir = explanation_dir(run_dir, split_name, record.run_id)
    stem = f"{_safe(doc_id)}-{method}"
    atomic_write_json(out_dir / f"{stem}.json", result)
    if html is not None:
        atomic_write_text(out_dir / f"{stem}.html", html)
    _print(result, out_dir, stem, html is not None, synthetic)
    return result


def is_synthetic(split_name: str) -> bool:
    """Embedded synthetic splits are the ones that need no user-supplied source."""
    return get_split(split_name).needs_source is None


def explanation_dir(run_dir: Path, split_name: str, run_id: str) -> Path:
    """Where explanations go: the run folder for synthetic splits, else DATA_DIR (module docstring)."""
    if is_synthetic(split_name):
        return Path(run_dir) / EXPLANATIONS_DIR
    return data_dir() / split_name / EXPLANATIONS_DIR / run_id


def _load_document(split_name: str, doc_id: str, record: RunRecord) -> dict:
    """The test document's row (text, demographics, gold codes) from DATA_DIR, after checking that the split
    there is the one the run was trained on."""
    folder = recorded_split_dir(record.split, record.fold)  # a fold run's documents are in its fold folder
    manifest = read_manifest(folder)
    expected = record.split_hashes.content_sha256
    if expected and manifest.get("content_sha256") != expected:
        raise UserError(
            f"{folder} is not the {split_name} the run was trained on (content hash differs); "
            f"re-prepare the split version {record.split_version} or explain a run trained on this one"
        )
    frame = pl.scan_parquet(folder / "test.parquet").filter(pl.col("doc_id") == doc_id).collect()
    if frame.height == 0:
        raise UserError(f"doc {doc_id!r} is not in the test part of {split_name}; pick a doc_id from its test part")
    row = frame.row(0, named=True)
    return {**row, "age_stats": _age_stats(folder, record)}


def _age_stats(folder: Path, record: RunRecord) -> tuple[float, float]:
    """Mean and std of train ages, as the datamodule z-scores them (over the run's train documents)."""
    train = pl.scan_parquet(folder / "train.parquet")
    if "age" not in train.collect_schema().names():
        return 0.0, 1.0
    limit = record.n_train_docs
    ages = (train.head(int(limit)) if limit else train).select("age").collect()["age"].drop_nulls().drop_nans()
    std = float(ages.std() or 0.0) if ages.len() > 1 else 0.0
    return (float(ages.mean() or 0.0) if ages.len() else 0.0), (std if std > 0 else 1.0)


class DocumentScorer:
    """Scores variants of one document's text with the run's model: ``texts -> probabilities [n, C]``.
    Demographics and reason for visit are the document's own; batches of :data:`LIME_BATCH`."""

    def __init__(self, model: torch.nn.Module, inputs, n_codes: int, doc: dict):
        self.model, self.inputs, self.n_codes = model, inputs, n_codes
        # the document's own fields besides its text: demographics, the reason for visit (sentence tagger)
        self.doc = {k: doc[k] for k in ("age", "sex", "reason_for_visit") if k in doc}
        self.age_stats = doc["age_stats"]
        # the split's sentence offsets hold for the unchanged note only (LIME's perturbations are re-split)
        self.text, self.sentences = doc.get("text"), doc.get("sentences")

    def batch(self, texts: list[str]) -> dict:
        frame = pl.DataFrame(
            {"doc_id": [str(i) for i in range(len(texts))], "text": texts, "codes": [[] for _ in texts]},
            schema_overrides={"codes": pl.List(pl.String)},
        )
        if self.doc:
            frame = frame.with_columns([pl.lit(v).alias(k) for k, v in self.doc.items()])
        if self.sentences:
            spans = [[dict(s) for s in self.sentences] if t == self.text else None for t in texts]
            frame = frame.with_columns(pl.Series("sentences", spans))
        part = encode_part(frame, self.inputs, {}, self.age_stats, train=False)
        return Collator(part, self.inputs, self.n_codes)([(i, f) for i, f in enumerate(part.features)])

    @torch.inference_mode()
    def __call__(self, texts: list[str]) -> np.ndarray:
        out = []
        for start in range(0, len(texts), LIME_BATCH):
            logits = as_output(self.model(self.batch(list(texts[start : start + LIME_BATCH])))).logits
            out.append(torch.sigmoid(logits.float()).numpy())
        return np.concatenate(out).astype(np.float64)


def _codes_to_explain(scores: np.ndarray, threshold: dict) -> list[tuple[int, bool]]:
    assigned = decisions(scores[None, :], threshold)[0]
    order = np.argsort(-scores, kind="stable")
    picked = [int(c) for c in order if assigned[c]][:MAX_CODES]
    return [(c, True) for c in picked] if picked else [(int(order[0]), False)]


def explain_lime(scorer: DocumentScorer, text: str, chosen, *, seed: int):
    """``({code index: [(word, weight), ...]}, LIME's HTML page)``."""
    # heavy: lime loads only for --method lime
    from lime.lime_text import LimeTextExplainer

    labels = [c for c, _ in chosen]
    explainer = LimeTextExplainer(class_names=None, random_state=seed)
    explanation = explainer.explain_instance(
        text, scorer, labels=labels, num_features=TOP_WORDS, num_samples=LIME_SAMPLES
    )
    words = {c: [(w, float(v)) for w, v in explanation.as_list(label=c)] for c in labels}
    return words, explanation.as_html(labels=labels)


def explain_attention(model, scorer: DocumentScorer, text: str, chosen, name: str):
    """``{code index: [(word, summed attention), ...]}`` from the model's attributions over its tokens."""
    batch = scorer.batch([text])
    model.want_attributions = True
    try:
        with torch.inference_mode():
            output = as_output(model(batch))
    finally:
        model.want_attributions = False
    if output.attributions is None:
        raise UserError(f"{name} exposes no attention over its input; use --method lime")
    tokens = scorer.inputs.position_tokens(batch)
    weights = output.attributions[0].float().numpy()  # [C, T]
    if weights.shape[-1] != len(tokens):
        raise UserError(f"{name} attends over {weights.shape[-1]} units, not tokens; use --method lime")
    return {c: _top_words(tokens, weights[c]) for c, _ in chosen}


def _top_words(tokens: list[str | None], weights: np.ndarray) -> list[tuple[str, float]]:
    """Merge subword pieces into words, sum the attention of every occurrence of a word and return the
    :data:`TOP_WORDS` heaviest. WordPiece marks continuations with ``##``; byte-level BPE and SentencePiece
    mark word starts with ``Ġ`` / ``▁`` instead."""
    marks_starts = any(t is not None and t[:1] in ("Ġ", "▁") for t in tokens)
    words: list[list] = []  # [word, weight] in reading order
    previous = None
    for token, weight in zip(tokens, weights.tolist()):
        if token is None:
            previous = None
            continue
        continues = token[:1] not in ("Ġ", "▁") if marks_starts else token.startswith("##")
        if continues and previous is not None:
            previous[0] += token[2:] if token.startswith("##") else token
            previous[1] += weight
        else:
            previous = [token.lstrip("Ġ▁"), weight]
            words.append(previous)
    totals: dict[str, float] = {}
    for word, weight in words:
        totals[word] = totals.get(word, 0.0) + weight
    return sorted(totals.items(), key=lambda item: -item[1])[:TOP_WORDS]


def _safe(doc_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", doc_id)[:100] or "doc"


def _print(result: dict, out_dir: Path, stem: str, has_html: bool, synthetic: bool) -> None:
    print(f"{result['model']} on {result['split']}, document {result['doc_id']} ({result['method']}):")
    for entry in result["codes"]:
        mark = "assigned" if entry["assigned"] else "top-scored, not assigned"
        words = ", ".join(f"{w['word']} ({w['weight']:+.3g})" for w in entry["words"])
        print(f"  {entry['code']} {entry['score']:.3f} [{mark}] {entry['title']}: {words}")
    where = "the run folder: synthetic data" if synthetic else "DATA_DIR: the notes are under a data-use agreement"
    files = f"{stem}.json" + (f" and {stem}.html" if has_html else "")
    print(f"saved {files} under {out_dir} ({where})")
