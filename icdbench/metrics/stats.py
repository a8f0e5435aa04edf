"""Statistics over reports: bootstrap confidence intervals over documents, a paired bootstrap test between
two runs on the same documents, and aggregation over seeds.

The bootstrap is vectorised: one evaluation is split into per-document pieces (counts, per-document values,
per-positive placements) and every resample is a weighted recombination of those pieces, ``B x N`` weights at
a time in blocks, instead of re-running the evaluation ``B`` times. For the threshold and ranking keys this is
exact (it equals evaluating the resampled documents). For ``macro_auc_roc`` / ``macro_auc_pr`` each resampled
positive keeps its placement among the original negatives: the positives' resampling, which dominates the
variance of rare codes, is exact; the negatives' (variance of order 1/negatives) is left out.

Cost at MIMIC-IV ICD-10 test scale with 1,000 resamples: the report's sorts once, then about
1,000 x (nonzero cells) multiply-adds per key family; see ``benchmarks/perf/metrics.py`` for the timing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from scipy import stats as scipy_stats
from torch import Tensor

from icdbench.metrics.functional.auc import Placements
from icdbench.metrics.functional.classification import SetCounts, per_doc_exact, per_doc_jaccard
from icdbench.metrics.functional.ranking import per_doc_ranking, ranking_stats
from icdbench.metrics.functional.ranks import code_ranks, gold_scores
from icdbench.metrics.functional.sets import CodeSets
from icdbench.metrics.report import TOP50_DOCS, Inputs, decision_threshold
from icdbench.metrics.thresholds import TopK

HEADLINE = ("micro_f1", "macro_f1", "macro_auc_roc", "macro_auc_pr", "p@8", "emr", "jaccard_samples")
_SUMS = ("tp", "pred", "gold", "exact", "jaccard", "samples_f1", "ranked")
_RANKING = ("p@5", "p@8", "p@15", "r@8", "r@15", "r_precision", "map_doc")
SUPPORTED = (
    "micro_precision", "micro_recall", "micro_f1", "macro_precision", "macro_recall", "macro_f1", "macro_f1_caml",
    "hamming_loss", "emr", "jaccard_samples", "jaccard_micro", "jaccard_macro", "samples_f1", *_RANKING,
    "macro_auc_roc", "macro_auc_pr",
)  # fmt: skip
BLOCK = 32  # resamples per vectorised block: bounds memory at BLOCK x (cells with gold or predictions)


@dataclass(frozen=True)
class Pieces:
    """One evaluation as per-document pieces; see the module docstring."""

    n_docs: int
    n_codes: int
    doc: dict[str, Tensor]  # [N] float64 per-document values
    tp: CodeSets
    pred: CodeSets
    gold: CodeSets
    placement: Tensor  # [M] per gold cell: neg_below / negatives of its code
    false_ge: Tensor  # [M] negatives of its code scoring >= it
    negatives: Tensor  # [C] negatives per code (original documents)
    tie_last: Tensor  # [M] index (in by_code order) of the last positive tied with it within its code
    by_code: Tensor  # [M] gold cells ordered by (code, score descending)

    @staticmethod
    def of(inputs: Inputs) -> Pieces:
        scores = inputs.scores
        gold = CodeSets.from_mask(inputs.targets)
        pred = CodeSets.from_scores(scores, decision_threshold(inputs.threshold, scores))
        counts = SetCounts.of(pred, gold)
        values = gold_scores(scores, gold)
        ranks, topk = ranking_stats(scores, gold)
        per_doc = per_doc_ranking(gold, values, ranks, topk)
        union = counts.pred_doc + counts.gold_doc
        per_doc.update(
            tp=counts.tp_doc.double(), pred=counts.pred_doc.double(), gold=counts.gold_doc.double(),
            exact=per_doc_exact(counts).double(), jaccard=per_doc_jaccard(counts),
            samples_f1=torch.where(union > 0, 2 * counts.tp_doc.double() / union.clamp(min=1), 1.0),
        )  # fmt: skip
        hit = pred.contains(gold)
        tp = CodeSets(gold.doc[hit], gold.code[hit], gold.n_docs, gold.n_codes)
        p = Placements.of(gold.code, gold.n_codes, values, code_ranks(scores, gold))
        order = torch.argsort(-values.double(), stable=True)
        by_code = order[torch.argsort(gold.code[order], stable=True)]
        code_sorted, value_sorted = gold.code[by_code], values[by_code]
        same = (code_sorted[1:] == code_sorted[:-1]) & (value_sorted[1:] == value_sorted[:-1])
        run_end = torch.ones(len(gold), dtype=torch.bool)
        run_end[:-1] = ~same
        position = torch.arange(len(gold))
        last = torch.flip(torch.cummin(torch.flip(torch.where(run_end, position, len(gold)), [0]), 0).values, [0])
        return Pieces(
            n_docs=gold.n_docs, n_codes=gold.n_codes, doc=per_doc, tp=tp, pred=pred, gold=gold,
            placement=p.neg_below / p.negatives[gold.code].clamp(min=1), false_ge=p.cells_ge - p.pos_ge,
            negatives=p.negatives, tie_last=last, by_code=by_code,
        )  # fmt: skip

    def replicate(self, weights: Tensor, keys: Sequence[str]) -> dict[str, Tensor]:
        """The keys for each row of document ``weights`` ``[B, N]`` (resample counts) → ``{key: [B]}``."""
        sums = {name: weights @ self.doc[name] for name in self.doc}
        out: dict[str, Tensor] = {}
        tp, pred, gold = sums["tp"], sums["pred"], sums["gold"]
        out["micro_precision"] = _safe(tp, pred)
        out["micro_recall"] = _safe(tp, gold)
        out["micro_f1"] = _safe(2 * tp, pred + gold)
        out["jaccard_micro"] = _safe(tp, pred + gold - tp)
        n = weights.sum(1)
        out["hamming_loss"] = (pred + gold - 2 * tp) / (n * self.n_codes)
        for name, key in (("exact", "emr"), ("jaccard", "jaccard_samples"), ("samples_f1", "samples_f1")):
            out[key] = sums[name] / n
        for key in _RANKING:
            out[key] = _safe(weights @ (self.doc[key] * self.doc["ranked"]), sums["ranked"], nan=True)
        if any(k.startswith("macro_") or k == "jaccard_macro" for k in keys):
            out.update(self._macro(weights))
        return {key: out[key] for key in keys}

    def _macro(self, weights: Tensor) -> dict[str, Tensor]:
        tp_c, pred_c, gold_c = (_per_code(weights, s) for s in (self.tp, self.pred, self.gold))
        evaluated = gold_c > 0
        macro_p = _masked_mean(_safe(tp_c, pred_c), evaluated)
        macro_r = _masked_mean(_safe(tp_c, gold_c), evaluated)
        w = weights[:, self.gold.doc]  # [B, M] weight of each gold cell
        roc_sum = torch.zeros_like(gold_c).index_add_(1, self.gold.code, w * self.placement)
        roc_defined = evaluated & (self.negatives > 0) & (weights.sum(1, keepdim=True) > gold_c)
        w_sorted = w[:, self.by_code]
        cumulative = torch.cumsum(w_sorted, 1)
        code_sorted = self.gold.code[self.by_code]
        first = torch.searchsorted(code_sorted, code_sorted)  # start of each code's run
        start_total = torch.where(first > 0, cumulative[:, (first - 1).clamp(min=0)], 0.0)
        true_ge = cumulative[:, self.tie_last] - start_total
        false_ge = self.false_ge[self.by_code]
        precision = torch.where(true_ge > 0, true_ge / (true_ge + false_ge), 0.0)
        ap_sum = torch.zeros_like(gold_c).index_add_(1, code_sorted, w_sorted * precision)
        return {
            "macro_precision": macro_p,
            "macro_recall": macro_r,
            "macro_f1": _masked_mean(_safe(2 * tp_c, pred_c + gold_c), evaluated),
            "macro_f1_caml": _safe(2 * macro_p * macro_r, macro_p + macro_r),
            "jaccard_macro": _masked_mean(_safe(tp_c, pred_c + gold_c - tp_c), evaluated),
            "macro_auc_roc": _masked_mean(_safe(roc_sum, gold_c), roc_defined),
            "macro_auc_pr": _masked_mean(_safe(ap_sum, gold_c), evaluated),
        }


def _safe(num: Tensor, den: Tensor, nan: bool = False) -> Tensor:
    fill = float("nan") if nan else 0.0
    return torch.where(den > 0, num / torch.where(den > 0, den, 1.0), fill)


def _masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    count = mask.sum(1)
    total = torch.where(mask, values, 0.0).sum(1)
    return torch.where(count > 0, total / count.clamp(min=1), float("nan"))


def _per_code(weights: Tensor, sets: CodeSets) -> Tensor:
    """``[B, C]``: weighted number of documents holding each code."""
    out = torch.zeros(weights.shape[0], sets.n_codes, dtype=weights.dtype)
    return out.index_add_(1, sets.code, weights[:, sets.doc])


def _check_keys(metrics: Sequence[str]) -> list[str]:
    keys = list(metrics)
    unknown = [k for k in keys if k not in SUPPORTED]
    if unknown:
        raise ValueError(f"no bootstrap for {unknown}; supported keys: {', '.join(SUPPORTED)}")
    return keys


def _weights(n_docs: int, n_boot: int, generator: torch.Generator):
    """Blocks of resample counts ``[b, N]`` float64 (each row: N documents drawn with replacement)."""
    for start in range(0, n_boot, BLOCK):
        b = min(BLOCK, n_boot - start)
        draws = torch.randint(n_docs, (b, n_docs), generator=generator)
        yield torch.zeros(b, n_docs, dtype=torch.float64).scatter_add_(
            1, draws, torch.ones(b, n_docs, dtype=torch.float64)
        )


def _replicates(pieces: Sequence[Pieces], keys: list[str], n_boot: int, seed: int) -> list[dict[str, Tensor]]:
    """``n_boot`` replicates of ``keys`` for each of ``pieces`` (same documents, same resamples)."""
    generator = torch.Generator().manual_seed(seed)
    blocks: list[list[dict[str, Tensor]]] = [[] for _ in pieces]
    for weights in _weights(pieces[0].n_docs, n_boot, generator):
        for out, piece in zip(blocks, pieces):
            out.append(piece.replicate(weights, keys))
    return [{k: torch.cat([block[k] for block in out]) for k in keys} for out in blocks]


def _interval(values: Tensor, alpha: float) -> tuple[float, float, float]:
    defined = values[~torch.isnan(values)]
    if defined.numel() == 0:
        return float("nan"), float("nan"), float("nan")
    low, high = torch.quantile(defined, torch.tensor([alpha / 2, 1 - alpha / 2], dtype=defined.dtype))
    std = float(defined.std()) if defined.numel() > 1 else 0.0
    return float(low), float(high), std


def _estimate(piece: Pieces, keys: list[str]) -> dict[str, float]:
    ones = torch.ones(1, piece.n_docs, dtype=torch.float64)
    return {k: float(v[0]) for k, v in piece.replicate(ones, keys).items()}


def _settings(scores, targets, codes, threshold, top50_codes, top50_docs) -> dict[str, Inputs]:
    inputs = Inputs.check(scores, targets, codes, threshold, None, None, None)
    if top50_codes is None:
        return {"": inputs}
    if top50_docs not in TOP50_DOCS:
        raise ValueError(f"top50_docs must be one of {TOP50_DOCS}, got {top50_docs!r}")
    if codes is None:
        raise ValueError("top50_codes need codes (the code of each score column)")
    index = {code: i for i, code in enumerate(inputs.codes)}
    missing = [c for c in top50_codes if c not in index]
    if missing:
        raise ValueError(f"top50_codes has {len(missing)} codes not in codes, e.g. {missing[0]!r}")
    columns = torch.tensor([index[c] for c in dict.fromkeys(top50_codes)], dtype=torch.long)
    doc_mask = inputs.targets[:, columns].any(dim=1) if top50_docs == "with_gold" else None
    return {"full": inputs, "top50": inputs.select(columns, doc_mask)}


def bootstrap_ci(
    scores,
    targets,
    metrics: Sequence[str] = HEADLINE,
    *,
    codes: Sequence[str] | None = None,
    threshold: float | Tensor | TopK = 0.5,
    top50_codes: Sequence[str] | None = None,
    top50_docs: str = "with_gold",
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> dict:
    """Percentile bootstrap intervals over documents: ``{key: {"estimate", "low", "high", "std"}}``.

    With ``top50_codes`` the result is ``{"full": {...}, "top50": {...}}`` (the top-50 setting as in
    :func:`icdbench.metrics.evaluate_settings`). Seeded: the same call gives the same numbers.
    """
    keys = _check_keys(metrics)
    if n_boot < 2 or not 0 < alpha < 1:
        raise ValueError("bootstrap needs n_boot >= 2 and 0 < alpha < 1")
    out = {}
    for name, inputs in _settings(scores, targets, codes, threshold, top50_codes, top50_docs).items():
        piece = Pieces.of(inputs)
        estimate = _estimate(piece, keys)
        (replicates,) = _replicates([piece], keys, n_boot, seed)
        result = {}
        for key in keys:
            low, high, std = _interval(replicates[key], alpha)
            result[key] = {"estimate": estimate[key], "low": low, "high": high, "std": std}
        out[name] = result
    return out[""] if "" in out else out


def paired_test(
    scores_a,
    scores_b,
    targets,
    metrics: Sequence[str] = HEADLINE,
    *,
    threshold_a: float | Tensor | TopK = 0.5,
    threshold_b: float | Tensor | TopK = 0.5,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> dict[str, dict[str, float]]:
    """Paired bootstrap between two runs' scores on the same documents and targets.

    Returns ``{key: {"a", "b", "delta" (b - a), "low", "high" (interval of delta), "p_value"}}``; the two-sided
    p-value is the share of resamples whose delta lies at least ``|delta|`` from the observed one (the
    bootstrap distribution shifted to the null), with the usual +1 correction.
    """
    keys = _check_keys(metrics)
    a = Pieces.of(Inputs.check(scores_a, targets, None, threshold_a, None, None, None))
    b = Pieces.of(Inputs.check(scores_b, targets, None, threshold_b, None, None, None))
    if a.n_codes != b.n_codes:
        raise ValueError("the two runs score different numbers of codes")
    est_a, est_b = _estimate(a, keys), _estimate(b, keys)
    rep_a, rep_b = _replicates([a, b], keys, n_boot, seed)
    out = {}
    for key in keys:
        delta = est_b[key] - est_a[key]
        diffs = rep_b[key] - rep_a[key]
        diffs = diffs[~torch.isnan(diffs)]
        low, high, _ = _interval(diffs, alpha)
        extreme = int(((diffs - delta).abs() >= abs(delta) - 1e-12).sum())
        p_value = (extreme + 1) / (diffs.numel() + 1) if diffs.numel() else float("nan")
        out[key] = {"a": est_a[key], "b": est_b[key], "delta": delta, "low": low, "high": high, "p_value": p_value}
    return out


def aggregate_seeds(reports: Sequence[dict], alpha: float = 0.05) -> dict:
    """Mean, sample std and t-interval of each key over runs with different seeds.

    ``reports``: flat ``{key: value}`` reports, or nested ones (``{"full": {...}, "top50": {...}}``, kept
    nested). Returns ``{key: {"mean", "std", "low", "high", "n"}}``; std and interval are NaN for one run, and
    values that are NaN or missing in a run are left out for that key.
    """
    if not reports:
        raise ValueError("aggregate_seeds needs at least one report")
    keys = list(dict.fromkeys(k for report in reports for k in report))
    out = {}
    for key in keys:
        values = [r[key] for r in reports if key in r]
        if values and all(isinstance(v, dict) for v in values):
            out[key] = aggregate_seeds(values, alpha)
            continue
        numbers = [float(v) for v in values if v is not None and not math.isnan(float(v))]
        n = len(numbers)
        mean = sum(numbers) / n if n else float("nan")
        std = math.sqrt(sum((v - mean) ** 2 for v in numbers) / (n - 1)) if n > 1 else float("nan")
        half = scipy_stats.t.ppf(1 - alpha / 2, n - 1) * std / math.sqrt(n) if n > 1 else float("nan")
        out[key] = {"mean": mean, "std": std, "low": float(mean - half), "high": float(mean + half), "n": n}
    return out
