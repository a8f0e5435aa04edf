"""Output-bias initialisation from code frequencies, shared by every neural model.

Every code starts at its train prevalence instead of at probability 0.5: the output bias of code ``c`` is the
log-odds of ``(n_c + 0.5) / (N + 1)`` (``n_c`` train documents with the code out of ``N``). With thousands of
rare codes a zero bias makes the first updates spend themselves on pushing every score down: a model
fine-tuned for few steps (the ``cpu``/``ci`` profiles, lr 5e-5) would still score everything near 0.5, and the
word models pushed their features there instead (a CNN's max-pooled tanh features saturated at 1 for every note,
so nothing was left to learn from). The focal-loss paper (Lin et al. 2017, §4.1) initialises its classifier
bias from a prior for the same reason.
The papers' own initialisations are otherwise kept; this only sets the starting bias.
"""

from __future__ import annotations

import numpy as np
import torch


def prior_logits(counts: np.ndarray, n_docs: int) -> torch.Tensor:
    """``[C]`` float32 log-odds of the smoothed prevalence of each code."""
    prevalence = (np.asarray(counts, dtype=np.float64) + 0.5) / (max(int(n_docs), 0) + 1.0)
    prevalence = np.clip(prevalence, 1e-6, 1 - 1e-6)
    return torch.as_tensor(np.log(prevalence / (1 - prevalence)), dtype=torch.float32)


@torch.no_grad()
def init_prior_bias(bias: torch.Tensor, counts: np.ndarray, n_docs: int) -> None:
    """Set an output bias ``[C]`` to :func:`prior_logits`."""
    bias.copy_(prior_logits(counts, n_docs).to(bias.dtype))
