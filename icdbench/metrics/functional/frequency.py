"""The rare-code picture: macro-F1 within buckets of codes by their number of training documents."""

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
