"""The rare-code picture: macro-F1 within buckets of codes by their number of training documents, and recall on
codes never seen in training."""

from __future__ import annotations

from torch import Tensor

from icdbench.metrics.keys import FREQUENCY_BUCKETS


def frequency_bucket_f1(f1: Tensor, evaluated: Tensor, train_counts: Tensor) -> dict[str, float]:
    """``macro_f1@[lo-hi]`` for each bucket of ``FREQUENCY_BUCKETS``.

    ``f1`` ``[C]`` per-code F1; ``evaluated`` ``[C]`` bool codes with a gold document in the evaluated set;
    ``train_counts`` ``[C]`` training documents per code. A bucket's value is the mean F1 of its evaluated codes
    (NaN when it has none); codes with 0 training documents fall in no bucket.
    """
    out = {}
    for name, low, high in FREQUENCY_BUCKETS:
        member = evaluated & (train_counts >= low)
        if high is not None:
            member &= train_counts <= high
        out[f"macro_f1@{name}"] = float(f1[member].mean()) if bool(member.any()) else float("nan")
    return out


def unseen_code_recall(tp_code: Tensor, gold_code: Tensor, train_counts: Tensor) -> dict[str, float]:
    """``recall_unseen``: the share of gold (document, code) pairs whose code has no training document that are
    assigned (NaN when there is no such pair); ``n_unseen_gold``: the number of such pairs.

    ``tp_code`` / ``gold_code`` ``[C]`` true positives and gold documents per code; ``train_counts`` ``[C]``.
    Only a model that reads code descriptions (or the hierarchy) can reach these codes: a classifier trained
    on labels has no positive example of them.
    """
    unseen = train_counts == 0
    gold = int(gold_code[unseen].sum())
    hit = int(tp_code[unseen].sum())
    return {"recall_unseen": hit / gold if gold else float("nan"), "n_unseen_gold": float(gold)}
