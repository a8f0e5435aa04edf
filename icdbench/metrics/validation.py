"""Input checks for the metrics entry points: a bad input gets one ``ValueError`` naming the problem, never a
silent number. Inputs are brought to CPU tensors (the metrics run on CPU, see ``functional/_kernels.py``)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from icdbench.metrics.functional.sequence import Sequences

SETTINGS = ("full", "top50")


def _tensor(values) -> Tensor:
    """A CPU tensor sharing memory with ``values`` where possible. Read-only arrays (memory maps, polars
    columns) are fine: the metrics never write to their inputs, so torch's warning about them is silenced."""
    if isinstance(values, Tensor):
        return values.detach().cpu()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return torch.as_tensor(np.asarray(values))


def as_scores(scores) -> Tensor:
    """``[N, C]`` probabilities → contiguous float32 CPU tensor; rejects NaN, inf and values outside [0, 1].

    Scores are evaluated in float32 (float64 input is rounded; model probabilities carry no more precision),
    and ``-0.0`` becomes ``0.0`` so that the bit patterns of the scores order like their values.
    """
    x = _tensor(scores)
    if not x.is_floating_point():
        raise ValueError(f"scores must be floating-point probabilities, got dtype {x.dtype}")
    if x.dim() != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"scores must be a non-empty [documents, codes] matrix, got shape {tuple(x.shape)}")
    x = x.float().contiguous()
    low, high = float(np.min(x.numpy())), float(np.max(x.numpy()))  # NaN propagates
    if math.isnan(low) or math.isnan(high):
        raise ValueError("scores contain NaN")
    if math.isinf(low) or math.isinf(high):
        raise ValueError("scores contain inf")
    if low < 0 or high > 1:
        raise ValueError(
            f"scores must be probabilities in [0, 1] (found {low:g} to {high:g}); apply a sigmoid to logits first"
        )
    if int(np.min(x.numpy().view(np.int32))) < 0:  # only -0.0 has the sign bit among values >= 0
        x = x + 0.0
    return x


def as_targets(targets, shape: tuple[int, int]) -> Tensor:
    """``[N, C]`` gold matrix (bool, or 0/1 numbers) → bool CPU tensor of the scores' shape."""
    y = _tensor(targets)
    if tuple(y.shape) != tuple(shape):
        raise ValueError(f"targets have shape {tuple(y.shape)} but scores have shape {tuple(shape)}")
    if y.dtype != torch.bool:
        if not bool(((y == 0) | (y == 1)).all()):
            raise ValueError("targets must be boolean or 0/1")
        y = y != 0
    return y.contiguous()


def as_codes(codes: Sequence[str] | None, n_codes: int) -> list[str] | None:
    if codes is None:
        return None
    codes = [str(code) for code in codes]
    if len(codes) != n_codes:
        raise ValueError(f"codes has {len(codes)} entries but scores have {n_codes} columns")
    if len(set(codes)) != len(codes):
        duplicate = next(code for code in codes if codes.count(code) > 1)
        raise ValueError(f"codes must be unique; {duplicate!r} appears more than once")
    return codes


def as_threshold(threshold, shape: tuple[int, int]) -> Tensor:
    """A scalar, ``[C]`` (per code) or ``[N, 1]`` (per document) threshold → float tensor; finite values."""
    t = _tensor(threshold if isinstance(threshold, Tensor) else np.asarray(threshold, dtype=np.float64)).double()
    n_docs, n_codes = shape
    if t.dim() == 2 and tuple(t.shape) == (1, n_codes):
        t = t[0]
    if not (t.dim() == 0 or tuple(t.shape) in ((n_codes,), (n_docs, 1))):
        raise ValueError(
            f"threshold must be a number, a [{n_codes}] per-code or a [{n_docs}, 1] per-document tensor, "
            f"got shape {tuple(t.shape)}"
        )
    if not bool(torch.isfinite(t).all()):
        raise ValueError("threshold must be finite")
    return t


def as_train_counts(train_counts, n_codes: int) -> Tensor | None:
    if train_counts is None:
        return None
    counts = _tensor(train_counts)
    if tuple(counts.shape) != (n_codes,):
        raise ValueError(f"train_counts must have one entry per code ({n_codes}), got shape {tuple(counts.shape)}")
    if counts.is_floating_point() and not bool((counts == counts.round()).all()):
        raise ValueError("train_counts must be whole numbers")
    counts = counts.long()
    if bool((counts < 0).any()):
        raise ValueError("train_counts must be non-negative")
    return counts


def as_sequences(gold_sequences, codes: list[str] | None, targets: Tensor) -> Sequences | None:
    """Gold code order per document → flattened code indices; every code must be known and gold for its
    document (a repeated code keeps its first position)."""
    if gold_sequences is None:
        return None
    if codes is None:
        raise ValueError("gold_sequences need codes (the code of each score column)")
    n_docs = targets.shape[0]
    if len(gold_sequences) != n_docs:
        raise ValueError(f"gold_sequences has {len(gold_sequences)} documents but scores have {n_docs}")
    if any(isinstance(sequence, str) for sequence in gold_sequences):
        raise ValueError("gold_sequences must hold one list of codes per document, not strings")
    index = {code: i for i, code in enumerate(codes)}
    lengths = torch.tensor([len(sequence) for sequence in gold_sequences], dtype=torch.long)
    flat = torch.tensor([index.get(code, -1) for sequence in gold_sequences for code in sequence], dtype=torch.long)
    doc = torch.repeat_interleave(torch.arange(n_docs), lengths)
    if bool((flat < 0).any()):
        i = int(torch.nonzero(flat < 0)[0])
        start = int(lengths[: int(doc[i])].sum())
        code = list(gold_sequences[int(doc[i])])[i - start]
        raise ValueError(f"gold_sequences[{int(doc[i])}] has code {code!r}, which is not in codes")
    if len(flat):
        missing = ~targets[doc, flat]
        if bool(missing.any()):
            i = int(torch.nonzero(missing)[0])
            raise ValueError(
                f"gold_sequences[{int(doc[i])}] has code {codes[int(flat[i])]!r}, which its targets row does "
                "not mark as gold"
            )
    return Sequences.from_flat(doc, flat, n_docs)


def check_setting(setting: str) -> str:
    if setting not in SETTINGS:
        raise ValueError(f"setting must be one of {SETTINGS}, got {setting!r}")
    return setting
