"""Output-bias initialisation from code frequencies, shared by every neural model.

Every code starts at its train prevalence instead of at probability 0.5: the output bias of code ``c`` is the
log-odds of ``(n_c + 0.5) / (N + 1)`` (``n_c`` train documents with the code out of ``N``). With thousands of
rare codes a zero bias makes the first updates spend themselves on pushing every score down: a model
fine-tuned for few steps (the ``cpu``/``ci`` profiles, lr 5e-5) would still score everything near 0.5, and the
word models pushed their features there instead (a CNN's max-pooled tanh features saturated at 1 for every note,
so nothing was left to learn from). The focal-loss paper (Lin et al. 2017, §4.1) initialises its classifier
bias from a prior for the same reason.
The papers' own initialisations are otherwise kept; this only sets the starting bias.

Under a class-weighted loss (``train.loss`` with ``wbce``: positives of code ``c`` weighted by
``(N - n_c) / n_c``) a constant score's optimum is 0.5 for every code, so the main output starts at logit 0
there (:func:`start_logits`). From the prevalence, AdamW at lr 1e-4 moves a bias by about 0.02 in the cpu
profile's 225 steps, so HMHAN's scores stayed far below 0.5: validation micro-F1 at 0.5 was 0 in every
epoch, and early stopping on it kept the first epoch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from icdbench.models.base import ModelContext


def prior_logits(counts: np.ndarray, n_docs: int) -> torch.Tensor:
    """``[C]`` float32 log-odds of the smoothed prevalence of each code."""
    prevalence = (np.asarray(counts, dtype=np.float64) + 0.5) / (max(int(n_docs), 0) + 1.0)
    prevalence = np.clip(prevalence, 1e-6, 1 - 1e-6)
    return torch.as_tensor(np.log(prevalence / (1 - prevalence)), dtype=torch.float32)


@torch.no_grad()
def init_prior_bias(bias: torch.Tensor, counts: np.ndarray, n_docs: int) -> None:
    """Set an output bias ``[C]`` to :func:`prior_logits`."""
    bias.copy_(prior_logits(counts, n_docs).to(bias.dtype))


def start_logits(ctx: ModelContext) -> torch.Tensor:
    """``[C]`` float32 starting logits of a model's per-code output under the run's loss: the prevalence
    log-odds, or zeros when the loss is class-weighted (``ctx.class_weighted_loss``)."""
    if ctx.class_weighted_loss:
        return torch.zeros(ctx.n_codes, dtype=torch.float32)
    return prior_logits(ctx.train_counts, ctx.n_train_docs)


@torch.no_grad()
def init_output_bias(bias: torch.Tensor, ctx: ModelContext) -> None:
    """Set the per-code output bias ``[C]`` to :func:`start_logits`. Auxiliary heads trained with plain BCE
    (parent codes, categories) use :func:`init_prior_bias` with their own counts."""
    bias.copy_(start_logits(ctx).to(bias.dtype))
