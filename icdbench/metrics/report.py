"""``evaluate``: the full metrics report of one score matrix, and ``evaluate_settings``: full and top-50 from
the same run. Keys and their definitions: :mod:`icdbench.metrics.keys`.

Cost at MIMIC-IV ICD-10 test scale (19,802 x 7,942): three sorts of the matrix (per document, per code, and
pooled in chunks); everything else works on the ~0.2% gold and predicted cells. See
``benchmarks/perf/metrics.py``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from icdbench.metrics.functional.auc import micro_auc, nanmean, per_code_auc
from icdbench.metrics.functional.automation import (
    AutomationCurve,
    automation_curve,
    automation_metrics,
    expected_errors_confidence,
)
from icdbench.metrics.functional.classification import (
    SetCounts,
    classification_metrics,
    per_code_f1,
    per_doc_exact,
    per_doc_jaccard,
)
from icdbench.metrics.functional.frequency import frequency_bucket_f1, unseen_code_recall
from icdbench.metrics.functional.hierarchy import Ancestors, Hierarchy, hierarchical_prf, jaccard_at_depth
from icdbench.metrics.functional.ranking import ranking_metrics, ranking_stats
from icdbench.metrics.functional.ranks import gold_scores
from icdbench.metrics.functional.sequence import Sequences, edit_similarity, kendall_tau, primary_metrics
from icdbench.metrics.functional.sets import CodeSets
from icdbench.metrics.keys import METRICS
from icdbench.metrics.thresholds import TopK
from icdbench.metrics.validation import (
    as_codes,
    as_scores,
    as_sequences,
    as_targets,
    as_threshold,
    as_train_counts,
    check_setting,
)

TOP50 = 50
TOP50_DOCS = ("with_gold", "all")


@dataclass(frozen=True)
class Inputs:
    """Validated inputs of one evaluation (CPU tensors)."""

    scores: Tensor  # [N, C] float
    targets: Tensor  # [N, C] bool
    codes: list[str] | None
    threshold: Tensor | TopK  # scalar, [C], [N, 1] or the top-k rule
    sequences: Sequences | None
    ancestors: Ancestors | None
    train_counts: Tensor | None  # [C]

    @staticmethod
    def check(scores, targets, codes, threshold, gold_sequences, ancestors, train_counts) -> Inputs:
        scores = as_scores(scores)
        shape = tuple(scores.shape)
        targets = as_targets(targets, shape)
        codes = as_codes(codes, shape[1])
        if not isinstance(threshold, TopK):
            threshold = as_threshold(threshold, shape)
        if ancestors is not None and codes is None:
            raise ValueError("ancestors need codes (the code of each score column)")
        sequences = as_sequences(gold_sequences, codes, targets)
        return Inputs(scores, targets, codes, threshold, sequences, ancestors, as_train_counts(train_counts, shape[1]))

    def select(self, code_index: Tensor, doc_mask: Tensor | None = None) -> Inputs:
        """The same evaluation restricted to the codes ``code_index`` and the documents ``doc_mask``."""
        rows = torch.nonzero(doc_mask).squeeze(1) if doc_mask is not None else slice(None)
        threshold = self.threshold
        if isinstance(threshold, Tensor) and threshold.dim() == 1:
            threshold = threshold[code_index]
        elif isinstance(threshold, Tensor) and threshold.dim() == 2:
            threshold = threshold[rows]
        sequences = None
        if self.sequences is not None:
            sequences = self.sequences.select(doc_mask, code_index, self.scores.shape[1])
        return replace(
            self,
            scores=self.scores[:, code_index][rows].contiguous(),  # columns first: never copy the full matrix
            targets=self.targets[:, code_index][rows].contiguous(),
            codes=[self.codes[i] for i in code_index.tolist()] if self.codes is not None else None,
            threshold=threshold,
            sequences=sequences,
            train_counts=self.train_counts[code_index] if self.train_counts is not None else None,
        )

    def top50(self, top50_codes: Sequence[str], top50_docs: str) -> Inputs:
        """The top-50 setting: the columns of ``top50_codes`` and, with ``top50_docs="with_gold"``, only the
        documents with at least one of them as a gold code (see :func:`evaluate_settings`)."""
        if top50_docs not in TOP50_DOCS:
            raise ValueError(f"top50_docs must be one of {TOP50_DOCS}, got {top50_docs!r}")
        if self.codes is None:
            raise ValueError("top50_codes need codes (the code of each score column)")
        index = {code: i for i, code in enumerate(self.codes)}
        unknown = [code for code in top50_codes if code not in index]
        if unknown:
            raise ValueError(f"top50_codes has {len(unknown)} codes not in codes, e.g. {unknown[0]!r}")
        columns = torch.tensor([index[code] for code in dict.fromkeys(top50_codes)], dtype=torch.long)
        doc_mask = self.targets[:, columns].any(dim=1) if top50_docs == "with_gold" else None
        return self.select(columns, doc_mask)


def top_codes(train_counts, codes: Sequence[str], n: int = TOP50) -> list[str]:
    """The ``n`` codes with the most training documents (ties by code string): the top-50 label set."""
    counts = as_train_counts(train_counts, len(codes))
    ranked = sorted(range(len(codes)), key=lambda i: (-int(counts[i]), codes[i]))
    return [codes[i] for i in ranked[:n]]


def decision_threshold(threshold: Tensor | TopK, scores: Tensor) -> Tensor:
    """The threshold in the scores' dtype, rounded up so that ``score >= threshold`` decides exactly as the
    float64 comparison would."""
    if isinstance(threshold, TopK):
        return threshold.per_document(scores)
    cast = threshold.to(scores.dtype)
    low = cast.double() < threshold
    return torch.where(low, torch.nextafter(cast, torch.full_like(cast, float("inf"))), cast)


def evaluate(
    scores,
    targets,
    *,
    codes: Sequence[str] | None = None,
    threshold: float | Tensor | TopK = 0.5,
    gold_sequences: Sequence[Sequence[str]] | None = None,
    ancestors: Ancestors | None = None,
    train_counts=None,
    setting: str = "full",
    keys: Collection[str] | None = None,
) -> dict[str, float]:
    """The metrics report of ``scores`` ``[N, C]`` (probabilities) against ``targets`` ``[N, C]`` (bool).

    * ``codes``: the code of each column; needed for ``jaccard_3char/4char``, sequences and ancestors.
    * ``threshold``: a number, a ``[C]`` per-code or ``[N, 1]`` per-document tensor, or ``TopK(k)``; a code is
      predicted when ``score >= threshold``.
    * ``gold_sequences``: per document, its gold codes in coded order (principal first) → sequence keys.
    * ``ancestors``: code → its ancestors nearest first (``codes.parquet``'s column), or a callable giving that
      list → ``hier_*`` keys. (The 3/4-character roll-up needs no ancestors: it reads the code strings.)
    * ``train_counts``: ``[C]`` training documents per code → ``macro_f1@[...]`` frequency buckets.
    * ``setting``: ``"full"``, or ``"top50"`` to evaluate only the 50 codes with most training documents
      (needs ``train_counts``; for an explicit code list see :func:`evaluate_settings`).
    * ``keys``: compute only these keys (and only the metric families behind them) — e.g. the few monitored
      every validation epoch; the default is every key.

    Returns ``{key: float}`` in the order of :data:`icdbench.metrics.keys.METRICS`; keys whose inputs are
    missing are absent, and a key that is undefined on these data (e.g. no code with a negative for AUC-ROC)
    is NaN. Raises ``ValueError`` for bad inputs. Inputs are not modified.
    """
    inputs = Inputs.check(scores, targets, codes, threshold, gold_sequences, ancestors, train_counts)
    if check_setting(setting) == "top50":
        if inputs.train_counts is None:
            raise ValueError('setting="top50" needs train_counts to pick the 50 most frequent codes')
        names = inputs.codes or [str(i) for i in range(inputs.scores.shape[1])]
        chosen = set(top_codes(inputs.train_counts, names))
        inputs = inputs.select(torch.tensor([i for i, name in enumerate(names) if name in chosen]))
    if keys is not None and (unknown := [k for k in keys if k not in METRICS]):
        raise ValueError(f"unknown metric keys {unknown}; see `icdbench list metrics`")
    return _report(inputs, keys)


def evaluate_settings(
    scores, targets, *, codes: Sequence[str], top50_codes: Sequence[str], top50_docs: str = "with_gold", **kwargs
) -> dict[str, dict[str, float]]:
    """``{"full": report, "top50": report}`` from one score matrix; ``kwargs`` as for :func:`evaluate`.

    The top-50 report keeps only the columns of ``top50_codes`` (a per-code threshold is restricted alike, a
    top-k rule picks among those codes, sequences keep their top-50 codes in order). ``top50_docs``:
    ``"with_gold"`` (default) keeps the documents with at least one top-50 gold code — the published top-50
    setting (Mullenbach et al. 2018, followed by Edin et al. 2023), so the numbers are comparable with a
    native ``-50`` split; ``"all"`` keeps every document, and one without a top-50 gold code then counts as
    exactly right when nothing is predicted for it and drops out of the ranking keys.
    """
    inputs = Inputs.check(
        scores, targets, codes, kwargs.pop("threshold", 0.5), kwargs.pop("gold_sequences", None),
        kwargs.pop("ancestors", None), kwargs.pop("train_counts", None),
    )  # fmt: skip
    if kwargs:
        raise TypeError(f"unexpected arguments: {sorted(kwargs)}")
    top50 = inputs.top50(top50_codes, top50_docs)
    if top50_docs == "with_gold" and top50.scores.shape[0] == 0:
        raise ValueError("no document has a gold code among top50_codes; use top50_docs='all'")
    return {"full": _report(inputs), "top50": _report(top50)}


def automation_curve_of(scores, targets, *, threshold: float | Tensor | TopK = 0.5) -> AutomationCurve:
    """The selective-automation curve (coverage vs EMR and Jaccard) for plots; see ``functional.automation``."""
    inputs = Inputs.check(scores, targets, None, threshold, None, None, None)
    gold = CodeSets.from_mask(inputs.targets)
    pred = CodeSets.from_scores(inputs.scores, decision_threshold(inputs.threshold, inputs.scores))
    counts = SetCounts.of(pred, gold)
    confidence = expected_errors_confidence(inputs.scores, pred)
    return automation_curve(confidence, per_doc_exact(counts), per_doc_jaccard(counts))


def _report(inputs: Inputs, keys: Collection[str] | None = None) -> dict[str, float]:
    """Every key (or only ``keys``: then only the families that produce them run)."""
    wanted = set(METRICS) if keys is None else set(keys)

    def wants(*names: str) -> bool:
        return any(name in wanted for name in names)

    def family(name: str) -> bool:
        return any(METRICS[key].family == name for key in wanted)

    scores = inputs.scores
    n_docs, n_codes = scores.shape
    gold = CodeSets.from_mask(inputs.targets)
    pred = CodeSets.from_scores(scores, decision_threshold(inputs.threshold, scores))
    counts = SetCounts.of(pred, gold)
    out: dict[str, float] = {
        "n_docs": n_docs,
        "n_codes": n_codes,
        "n_codes_evaluated": int(counts.evaluated.sum()),
        "n_docs_without_gold": int((counts.gold_doc == 0).sum()),
    }
    out.update(classification_metrics(counts))
    sequences = inputs.sequences if family("sequence") else None
    if family("ranking") or sequences is not None:
        doc_ranks, kth = ranking_stats(scores, gold)
        out.update(ranking_metrics(gold, gold_scores(scores, gold), doc_ranks, kth))
    if wants("micro_auc_roc", "micro_auc_pr"):
        out["micro_auc_roc"], out["micro_auc_pr"] = micro_auc(scores, gold)
    if wants("macro_auc_roc", "macro_auc_pr"):
        code_roc, code_pr = per_code_auc(scores, gold)
        out.update(macro_auc_roc=nanmean(code_roc), macro_auc_pr=nanmean(code_pr))
    if inputs.codes is not None and wants("jaccard_3char", "jaccard_4char"):
        out["jaccard_3char"] = jaccard_at_depth(pred, gold, inputs.codes, 3)
        out["jaccard_4char"] = jaccard_at_depth(pred, gold, inputs.codes, 4)
    if inputs.ancestors is not None and family("hierarchy"):
        out.update(hierarchical_prf(pred, gold, Hierarchy.build(inputs.codes, inputs.ancestors)))
    if sequences is not None:
        code_order = torch.tensor(_string_ranks(inputs.codes))
        out.update(primary_metrics(sequences, gold, doc_ranks))
        out["seq_kendall_tau"] = kendall_tau(sequences, pred, scores)
        out["seq_edit_sim"] = edit_similarity(sequences, pred, code_order)
    if inputs.train_counts is not None and family("frequency"):
        out.update(frequency_bucket_f1(per_code_f1(counts), counts.evaluated, inputs.train_counts))
        out.update(unseen_code_recall(counts.tp_code, counts.gold_code, inputs.train_counts))
    if family("automation"):
        confidence = expected_errors_confidence(scores, pred)
        curve = automation_curve(confidence, per_doc_exact(counts), per_doc_jaccard(counts))
        out.update(automation_metrics(curve))
    return {key: float(out[key]) for key in METRICS if key in out and key in wanted}


def _string_ranks(codes: list[str]) -> list[int]:
    """Each code's position in sorted string order."""
    order = sorted(range(len(codes)), key=codes.__getitem__)
    ranks = [0] * len(codes)
    for rank, i in enumerate(order):
        ranks[i] = rank
    return ranks
