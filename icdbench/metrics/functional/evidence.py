"""Evidence metrics: does a model's attribution for a code it predicted correctly point at the gold evidence?

A *case* is one (document, code) pair where the code is gold, predicted, and has a gold evidence span that
overlaps at least one position the model saw (evidence cut off by truncation cannot be found; such cases are
left out, as Edin et al. 2024 do). Per case the inputs are the attribution over the model's positions ``[P]``,
each position's raw-text ``[start, end)`` (``start < 0``: not text, e.g. padding or special tokens), the
document's sentences and the code's gold spans. A position *is evidence* when it overlaps a gold span.

Keys (pooled over cases, i.e. micro averages):

- ``evidence_p@k`` / ``evidence_r@k`` (k = 5, 10): the k text positions with the highest attribution; hits are
  the evidence positions among them; precision = Σ hits / Σ min(k, P), recall = Σ hits / Σ evidence positions.
- ``evidence_sentence_hit``: share of cases whose top sentence (largest summed attribution over its positions)
  overlaps a gold span.
- ``evidence_span_f1_exact`` / ``evidence_span_f1_pi``: span matching as in MDACE (Cheng et al. 2023). A case's
  predicted spans are the maximal runs of adjacent positions whose attribution is at least ``span_threshold``
  times the case's largest; gold spans are snapped to the positions they overlap (first start, last end), so
  punctuation around a span does not matter. Exact: same offsets; position-independent (``pi``): same
  normalised covered text (:func:`icdbench.datasets.text.clean_text`), wherever it occurs. Each case compares
  sets; true/false positives and false negatives are summed over cases.
- ``evidence_n_cases``: the number of cases.

Note text is only read in memory (position-independent keys); nothing here writes it anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from icdbench.datasets.text import clean_text, split_sentences

EVIDENCE_KS = (5, 10)
SPAN_THRESHOLD = 0.5


@dataclass
class EvidenceCase:
    """One correctly predicted code of one document, with its gold evidence."""

    attribution: np.ndarray  # [P] float, the code's attribution over the model's positions
    positions: np.ndarray  # [P, 2] int64 raw [start, end) of each position; start < 0 = not text
    sentences: np.ndarray  # [S, 2] int64 raw [start, end) of the document's sentences
    gold: np.ndarray  # [G, 2] int64 raw [start, end) of the code's gold spans
    text: str  # the raw note, for position-independent matching

    @property
    def valid(self) -> np.ndarray:
        """``[P]`` bool: positions that are text and have a finite attribution."""
        return (self.positions[:, 0] >= 0) & np.isfinite(self.attribution)


def overlaps(spans: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """``[A, T]`` bool: whether span ``a`` of ``spans`` ``[A, 2]`` overlaps span ``t`` of ``targets`` ``[T, 2]``
    (half-open intervals sharing at least one character)."""
    spans, targets = spans.reshape(-1, 2), targets.reshape(-1, 2)
    return (spans[:, None, 0] < targets[None, :, 1]) & (spans[:, None, 1] > targets[None, :, 0])


def evidence_positions(case: EvidenceCase) -> np.ndarray:
    """``[P]`` bool: valid positions overlapping a gold span."""
    return overlaps(case.positions, case.gold).any(axis=1) & case.valid


def top_k_hits(case: EvidenceCase, k: int) -> tuple[int, int]:
    """``(evidence positions among the k most attributed, min(k, valid positions))``; ties keep text order."""
    valid = np.flatnonzero(case.valid)
    top = valid[np.argsort(-case.attribution[valid], kind="stable")[:k]]
    return int(evidence_positions(case)[top].sum()), len(top)


def top_sentence_hit(case: EvidenceCase) -> bool:
    """Whether the sentence with the largest summed attribution overlaps a gold span."""
    valid = case.valid
    inside = overlaps(case.positions[valid], case.sentences)  # [P_valid, S]
    if not inside.any():
        return False
    weights = case.attribution[valid][:, None] * inside  # a position counts for the sentence(s) it lies in
    top = int(np.argmax(weights.sum(axis=0)))
    return bool(overlaps(case.sentences[top], case.gold).any())


def predicted_spans(case: EvidenceCase, threshold: float = SPAN_THRESHOLD) -> set[tuple[int, int]]:
    """Runs of adjacent positions attributed at least ``threshold`` × the case's maximum, as raw spans."""
    valid = case.valid
    if not valid.any():
        return set()
    peak = case.attribution[valid].max()
    chosen = np.flatnonzero(valid & (case.attribution >= threshold * peak)) if peak > 0 else []
    spans: set[tuple[int, int]] = set()
    run: list[int] = []
    for index in chosen:
        if run and index != run[-1] + 1:
            spans.add((int(case.positions[run[0], 0]), int(case.positions[run[-1], 1])))
            run = []
        run.append(int(index))
    if run:
        spans.add((int(case.positions[run[0], 0]), int(case.positions[run[-1], 1])))
    return spans


def snapped_gold(case: EvidenceCase) -> set[tuple[int, int]]:
    """Gold spans moved to the boundaries of the valid positions they overlap (spans overlapping none drop)."""
    positions = case.positions[case.valid]
    hits = overlaps(case.gold, positions)  # [G, P_valid]
    return {(int(positions[row, 0].min()), int(positions[row, 1].max())) for row in hits if row.any()}


def _span_keys(spans: set[tuple[int, int]], text: str, matching: str) -> set:
    """What must agree for two spans to match: their offsets (``exact``) or their cleaned text (``pi``)."""
    return spans if matching == "exact" else {clean_text(text[start:end]) for start, end in spans}


def _f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0


def evidence_metrics(
    cases: Iterable[EvidenceCase], *, ks: tuple[int, ...] = EVIDENCE_KS, span_threshold: float = SPAN_THRESHOLD
) -> dict[str, float]:
    """The ``evidence_*`` keys over ``cases`` (module docstring). Cases without an evidence position among
    their valid positions are skipped. With no case left, every key but ``evidence_n_cases`` is NaN."""
    hits = {k: 0 for k in ks}
    shown = {k: 0 for k in ks}
    n_gold = n_cases = sentence_hits = 0
    counts = {"exact": [0, 0, 0], "pi": [0, 0, 0]}  # tp, fp, fn
    for case in cases:
        gold_positions = int(evidence_positions(case).sum())
        if gold_positions == 0:
            continue
        n_cases += 1
        n_gold += gold_positions
        for k in ks:
            h, n = top_k_hits(case, k)
            hits[k] += h
            shown[k] += n
        sentence_hits += top_sentence_hit(case)
        predicted, gold = predicted_spans(case, span_threshold), snapped_gold(case)
        for name in counts:
            p, g = _span_keys(predicted, case.text, name), _span_keys(gold, case.text, name)
            counts[name][0] += len(p & g)
            counts[name][1] += len(p - g)
            counts[name][2] += len(g - p)
    nan = float("nan")
    out: dict[str, float] = {}
    for k in ks:
        out[f"evidence_p@{k}"] = hits[k] / shown[k] if n_cases else nan
        out[f"evidence_r@{k}"] = hits[k] / n_gold if n_cases else nan
    out["evidence_sentence_hit"] = sentence_hits / n_cases if n_cases else nan
    for name in ("exact", "pi"):
        out[f"evidence_span_f1_{name}"] = _f1(*counts[name]) if n_cases else nan
    out["evidence_n_cases"] = float(n_cases)
    return out


# --- from a part of a split ---------------------------------------------------------------------------------
@dataclass
class DocumentAttributions:
    """A model's attributions for one document: where its positions lie in the raw text and, for the codes
    that are evaluated, the attribution over those positions."""

    positions: np.ndarray  # [P, 2] int64 raw [start, end); start < 0 = not text
    per_code: dict[int, np.ndarray] = field(default_factory=dict)  # code index -> [P] float


def gold_spans(frame: pl.DataFrame, codes: Sequence[str]) -> list[dict[int, np.ndarray]]:
    """Per row of ``frame``, code index -> its gold evidence spans ``[G, 2]`` (codes outside ``codes`` dropped;
    a frame without an ``evidence`` column has none)."""
    index = {c: i for i, c in enumerate(codes)}
    out: list[dict[int, np.ndarray]] = []
    evidence = frame["evidence"].to_list() if "evidence" in frame.columns else [None] * frame.height
    for spans in evidence:
        by_code: dict[int, list[tuple[int, int]]] = {}
        for span in spans or []:
            if span["code"] in index and span["end"] > span["start"]:
                by_code.setdefault(index[span["code"]], []).append((int(span["start"]), int(span["end"])))
        out.append({c: np.asarray(s, dtype=np.int64) for c, s in by_code.items()})
    return out


def cases_to_explain(frame: pl.DataFrame, codes: Sequence[str], predicted: np.ndarray) -> dict[int, list[int]]:
    """Row -> the code indices to evaluate: gold codes of the row that ``predicted`` ``[N, C]`` (bool, rows of
    ``frame``) assigns and that have gold evidence. Models only need attributions for these."""
    index = {c: i for i, c in enumerate(codes)}
    out: dict[int, list[int]] = {}
    for row, (spans, doc_codes) in enumerate(zip(gold_spans(frame, codes), frame["codes"].to_list())):
        gold = {index[c] for c in doc_codes if c in index}
        wanted = [c for c in sorted(spans) if c in gold and predicted[row, c]]
        if wanted:
            out[row] = wanted
    return out


def evidence_report(
    frame: pl.DataFrame,
    codes: Sequence[str],
    attributions: Mapping[int, DocumentAttributions],
    predicted: np.ndarray,
    *,
    ks: tuple[int, ...] = EVIDENCE_KS,
    span_threshold: float = SPAN_THRESHOLD,
) -> dict[str, float]:
    """The ``evidence_*`` keys of a part of a split (``frame``: rows with ``text``, ``codes``, ``evidence`` and,
    where the split has them, ``sentences``) for a model's ``attributions`` (row -> :class:`DocumentAttributions`,
    covering at least :func:`cases_to_explain`) and its decisions ``predicted`` ``[N, C]`` bool."""
    spans_per_row = gold_spans(frame, codes)
    sentence_column = frame["sentences"].to_list() if "sentences" in frame.columns else [None] * frame.height
    texts = frame["text"].to_list()

    def cases() -> Iterable[EvidenceCase]:
        for row, wanted in cases_to_explain(frame, codes, predicted).items():
            if row not in attributions:
                continue
            doc, text = attributions[row], texts[row]
            stored = sentence_column[row]
            sentences = [(int(s["start"]), int(s["end"])) for s in stored] if stored else split_sentences(text)
            sentence_spans = np.asarray(sentences, dtype=np.int64).reshape(-1, 2)
            for code in wanted:
                if code in doc.per_code:
                    yield EvidenceCase(
                        doc.per_code[code], doc.positions, sentence_spans, spans_per_row[row][code], text
                    )

    return evidence_metrics(cases(), ks=ks, span_threshold=span_threshold)
