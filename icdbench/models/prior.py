"""``prior``: every code scored at its training prevalence, whatever the note says (no text is read).

The yardstick of every board: a model whose row is not clearly above ``prior`` has not left the label prior.
The prevalence is add-``smoothing`` smoothed, ``(n_c + k) / (N + 2k)`` for a code in ``n_c`` of ``N`` training
documents; the default ``k = 0.5`` gives ``(n_c + 0.5) / (N + 1)``, exactly the score every neural model starts
from (its output bias, ``icdbench.models._priors``), so a neural run that never moved scores like this row.
A code never seen in train still gets a small positive score, and ranking-based metrics see the codes in order
of frequency (ties in frequency tie in score).

It goes through the scikit-learn runner like ``lr``/``svm`` (``fit(texts, Y)``, ``predict_scores(texts)``); it
has no settings to tune on validation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from icdbench.errors import UserError
from icdbench.models.registry import Fidelity, register_model


@dataclass
class PriorConfig:
    smoothing: float = 0.5  # k in (n_c + k) / (N + 2k); 0 gives the raw training prevalence


class Prior:
    """``fit(texts, Y [N, C] bool)`` keeps each code's smoothed prevalence; ``predict_scores(texts)`` tiles it."""

    def __init__(self, config: PriorConfig):
        self.smoothing = float(config.smoothing)
        self.prevalence: np.ndarray | None = None  # [C] float32

    def fit(self, texts: list, Y: np.ndarray) -> Prior:
        Y = np.asarray(Y).astype(bool)
        if Y.ndim != 2 or Y.shape[0] != len(texts):
            raise UserError(f"targets must be [n_texts, n_codes]; got {Y.shape} for {len(texts)} texts")
        n_docs = Y.shape[0]
        if n_docs == 0 and self.smoothing == 0:
            raise UserError("the prior of an empty training part needs smoothing > 0")
        counts = Y.sum(axis=0, dtype=np.float64)
        self.prevalence = ((counts + self.smoothing) / (n_docs + 2 * self.smoothing)).astype(np.float32)
        return self

    def predict_scores(self, texts: list) -> np.ndarray:
        if self.prevalence is None:
            raise UserError("the prior model has not been fitted yet")
        return np.tile(self.prevalence, (len(texts), 1))


@register_model(
    "prior",
    family="prior",
    paper="label-prior baseline: each code at its training prevalence (no text read)",
    inputs="text",
    config=PriorConfig,
    trainer="sklearn",
    fidelity=Fidelity(reference="none needed: the training prevalence of each code, add-0.5 smoothed"),
)
def _build(config: PriorConfig, ctx=None) -> Prior:
    if config.smoothing < 0:
        raise UserError(f"smoothing must be at least 0, got {config.smoothing}")
    return Prior(config)
