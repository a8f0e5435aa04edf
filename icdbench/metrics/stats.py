"""Statistics over reports: bootstrap confidence intervals over documents, a paired bootstrap test between
two runs on the same documents, and aggregation over seeds.

The bootstrap is vectorised: one evaluation is split into per-document pieces (counts, per-document values,
per-positive placements) and every resample is a weighted recombination of those pieces, a block of resample
weights ``[B, N]`` at a time, instead of re-running the evaluation ``B`` times. For the threshold and ranking
keys this is exact (it equals evaluating the resampled documents). For ``macro_auc_roc`` / ``macro_auc_pr``
each resampled positive keeps its place among the original negatives: the resampling of positives, which
dominates the variance of rare codes, is exact; that of negatives (variance of order 1/negatives) is left
out — on small test sets the AUC intervals are therefore somewhat narrow.

Macro keys average over the codes with gold in each resample, as on the original documents. A code whose few
gold documents are not drawn leaves that resample's average (a code with one gold document does in about 37% of
resamples), so on test sets with many rare codes the replicates lean towards the frequent codes' values and the
percentile interval can exclude the estimate (measured: ``lr`` on ``codiesp-d`` at the ci profile, macro-F1 0.034
with interval [0.035, 0.048]). Read such intervals as a spread, not as a coverage guarantee.

Cost: the evaluation's sorts once (as ``evaluate``), then per resample a few sparse products over the gold
and predicted cells; ``macro_auc_pr`` needs a running sum over every gold cell per resample, so it uses only
the first ``AUC_PR_RESAMPLES`` resamples. ``benchmarks/perf/metrics.py`` times 1,000 resamples at MIMIC-IV
scale.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from scipy import stats as scipy_stats
from torch import Tensor

from icdbench.metrics.functional.auc import Placements, auc_from_ranks, nanmean
from icdbench.metrics.functional.classification import SetCounts, per_doc_exact, per_doc_jaccard
from icdbench.metrics.functional.ranking import per_doc_ranking, ranking_stats
from icdbench.metrics.functional.ranks import code_ranks, gold_scores
from icdbench.metrics.functional.sets import CodeSets
from icdbench.metrics.report import Inputs, decision_threshold
from icdbench.metrics.thresholds import TopK

HEADLINE = ("micro_f1", "macro_f1", "macro_auc_roc", "macro_auc_pr", "p@8", "emr", "jaccard_samples")
_SUMS = ("tp", "pred", "gold", "exact", "jaccard", "samples_f1", "ranked")
_RANKING = ("p@5", "p@8", "p@15", "r@8", "r@15", "r_precision", "map_doc")
SUPPORTED = (
    "micro_precision", "micro_recall", "micro_f1", "macro_precision", "macro_recall", "macro_f1", "macro_f1_caml",
    "hamming_loss", "emr", "jaccard_samples", "jaccard_micro", "jaccard_macro", "samples_f1", *_RANKING,
    "macro_auc_roc", "macro_auc_pr",
)  # fmt: skip
BLOCK = 40  # resamples per vectorised block: bounds memory at BLOCK x (cells with gold or predictions)
AUC_PR_RESAMPLES = 200  # macro_auc_pr, the costliest replicate (B x gold cells), uses the first 200 resamples


@dataclass(frozen=True)
class Pieces:
    """One evaluation as per-document pieces; see the module docstring."""

    n_docs: int
    n_codes: int
    doc: dict[str, Tensor]  # [N] float64 per-document values
    per_code: dict[str, Tensor]  # [C, N] sparse CSR float32: tp, pred, gold indicators; roc: gold x placement
    negatives: Tensor  # [C] negatives per code (original documents)
    exact: dict[str, float]  # the AUC keys on the original documents, without float32 rounding
    # macro AP: gold cells ordered by (code, score descending), as documents [M], the first cell of each
    # cell's code and the last cell tied with it (positions in that order), and negatives scoring >= it
    ap_doc: Tensor
    ap_first: Tensor
    ap_last: Tensor
    ap_false: Tensor  # (plus 1e-12)
    ap_segments: Tensor  # [M, C] sparse: which code each cell (in that order) belongs to

    @staticmethod
    def of(inputs: Inputs) -> Pieces:
        scores = inputs.scores
        gold = CodeSets.from_mask(inputs.targets)
        pred = CodeSets.from_scores(scores, decision_threshold(inputs.threshold, scores))
        counts = SetCounts.of(pred, gold)
        values = gold_scores(scores, gold)
        in_docs, kth = ranking_stats(scores, gold)
        per_doc = per_doc_ranking(gold, values, in_docs, kth)
        union = counts.pred_doc + counts.gold_doc
        per_doc.update(
            tp=counts.tp_doc.double(), pred=counts.pred_doc.double(), gold=counts.gold_doc.double(),
            exact=per_doc_exact(counts).double(), jaccard=per_doc_jaccard(counts),
            samples_f1=torch.where(union > 0, 2 * counts.tp_doc.double() / union.clamp(min=1), 1.0),
        )  # fmt: skip
        hit = pred.contains(gold)
        tp = CodeSets(gold.doc[hit], gold.code[hit], gold.n_docs, gold.n_codes)
        in_codes = code_ranks(scores, gold)
        p = Placements.of(gold.code, gold.n_codes, values, in_codes)
        placement = p.neg_below / p.negatives[gold.code].clamp(min=1)
        roc, ap = auc_from_ranks(gold.code, gold.n_codes, values, in_codes)
        order = torch.argsort(-values.double(), stable=True)
        by_code = order[torch.argsort(gold.code[order], stable=True)]
        code_sorted, value_sorted = gold.code[by_code], values[by_code]
        same = (code_sorted[1:] == code_sorted[:-1]) & (value_sorted[1:] == value_sorted[:-1])
        run_end = torch.ones(len(gold), dtype=torch.bool)
        run_end[:-1] = ~same
        position = torch.arange(len(gold))
        last = torch.flip(torch.cummin(torch.flip(torch.where(run_end, position, len(gold)), [0]), 0).values, [0])
        ends = torch.cumsum(gold.per_code(), 0)
        return Pieces(
            n_docs=gold.n_docs,
            n_codes=gold.n_codes,
            doc=per_doc,
            per_code={"tp": _csr(tp), "pred": _csr(pred), "gold": _csr(gold), "roc": _csr(gold, placement)},
            negatives=p.negatives,
            exact={"macro_auc_roc": nanmean(roc), "macro_auc_pr": nanmean(ap)},
            ap_doc=gold.doc[by_code],
            ap_first=(ends - gold.per_code())[code_sorted],
            ap_last=last,
            ap_false=(p.cells_ge - p.pos_ge)[by_code].float() + 1e-12,
            ap_segments=_sparse_rows(code_sorted, gold.n_codes),
        )

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
            out.update(self._macro(weights, with_ap="macro_auc_pr" in keys))
        return {key: out[key] for key in keys}

    def _macro(self, weights: Tensor, with_ap: bool) -> dict[str, Tensor]:
        columns = weights.t().float().contiguous()  # [N, B]; counts are exact in float32
        tp_c, pred_c, gold_c = ((self.per_code[name] @ columns).t().double() for name in ("tp", "pred", "gold"))
        roc_sum = (self.per_code["roc"] @ weights.t().contiguous()).t()
        evaluated = gold_c > 0
        macro_p = _masked_mean(_safe(tp_c, pred_c), evaluated)
        macro_r = _masked_mean(_safe(tp_c, gold_c), evaluated)
        roc_defined = evaluated & (self.negatives > 0) & (weights.sum(1, keepdim=True) > gold_c)
        out = {
            "macro_precision": macro_p,
            "macro_recall": macro_r,
            "macro_f1": _masked_mean(_safe(2 * tp_c, pred_c + gold_c), evaluated),
            "macro_f1_caml": _safe(2 * macro_p * macro_r, macro_p + macro_r),
            "jaccard_macro": _masked_mean(_safe(tp_c, pred_c + gold_c - tp_c), evaluated),
            "macro_auc_roc": _masked_mean(_safe(roc_sum, gold_c), roc_defined),
        }
        if with_ap:
            out["macro_auc_pr"] = _masked_mean(_safe(self._ap_sums(weights), gold_c), evaluated)
        return out

    def _ap_sums(self, weights: Tensor) -> Tensor:
        """``[B, C]`` sum over each code's resampled positives of the precision at their score."""
        w = torch.index_select(weights.float(), 1, self.ap_doc)  # [B, M], codes in runs, best score first
        cumulative = torch.cumsum(w, 1)
        before = torch.index_select(cumulative, 1, self.ap_first) - torch.index_select(w, 1, self.ap_first)
        true_ge = torch.index_select(cumulative, 1, self.ap_last).sub_(before)
        precision = true_ge.div_(true_ge + self.ap_false)  # ap_false > 0: no 0/0 for unsampled cells
        return (w.mul_(precision) @ self.ap_segments).double()


def _safe(num: Tensor, den: Tensor, nan: bool = False) -> Tensor:
    fill = float("nan") if nan else 0.0
    return torch.where(den > 0, num / torch.where(den > 0, den, 1.0), fill)


def _masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    count = mask.sum(1)
    total = torch.where(mask, values, 0.0).sum(1)
    return torch.where(count > 0, total / count.clamp(min=1), float("nan"))


def _sparse_rows(column: Tensor, n_columns: int) -> Tensor:
    """``[len(column), n_columns]`` sparse CSR float32 matrix with a single 1 per row, at ``column``."""
    rows = torch.arange(len(column) + 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(rows, column, torch.ones(len(column)), (len(column), n_columns))


def _csr(sets: CodeSets, values: Tensor | None = None) -> Tensor:
    """``[C, N]`` sparse CSR matrix with float64 ``values`` or float32 ones at the sets' cells."""
    order = torch.argsort(sets.code * sets.n_docs + sets.doc)
    rows = torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum(sets.per_code(), 0)])
    data = values[order].double() if values is not None else torch.ones(len(sets))
    with warnings.catch_warnings():  # torch notes that CSR support is "beta"; the product used here is stable
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(rows, sets.doc[order], data, (sets.n_codes, sets.n_docs), check_invariants=False)


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
    """``n_boot`` replicates of ``keys`` for each of ``pieces`` (same documents, same resamples);
    ``macro_auc_pr`` is NaN after the first ``AUC_PR_RESAMPLES``."""
    generator = torch.Generator().manual_seed(seed)
    blocks: list[list[dict[str, Tensor]]] = [[] for _ in pieces]
    done = 0
    for weights in _weights(pieces[0].n_docs, n_boot, generator):
        wanted = keys if done < AUC_PR_RESAMPLES else [k for k in keys if k != "macro_auc_pr"]
        for out, piece in zip(blocks, pieces):
            values = piece.replicate(weights, wanted)
            out.append({k: values.get(k, torch.full((len(weights),), float("nan"))) for k in keys})
        done += len(weights)
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
    return {k: piece.exact.get(k, float(v[0])) for k, v in piece.replicate(ones, keys).items()}


def _settings(scores, targets, codes, threshold, top50_codes, top50_docs) -> dict[str, Inputs]:
    inputs = Inputs.check(scores, targets, codes, threshold, None, None, None)
    if top50_codes is None:
        return {"": inputs}
    return {"full": inputs, "top50": inputs.top50(top50_codes, top50_docs)}


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
