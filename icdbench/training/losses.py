"""Multi-label losses over logits ``[B, C]`` and float targets ``[B, C]``: a scalar mean to train on, or one mean
per document (``CodingLoss.per_document``) for a validation loss that DDP padding cannot skew."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def focal_loss(logits: torch.Tensor, targets: torch.Tensor, gamma: float = 2.0, alpha: float = 0.25) -> torch.Tensor:
    """Sigmoid focal loss (Lin et al. 2017), averaged over all ``B x C`` entries."""
    return focal_terms(logits, targets, gamma, alpha).mean()


def focal_terms(logits: torch.Tensor, targets: torch.Tensor, gamma: float = 2.0, alpha: float = 0.25) -> torch.Tensor:
    """Sigmoid focal loss per entry ``[B, C]``.

    ``FL = -a_t (1 - p_t)^gamma log(p_t)`` with ``p_t = p`` and ``a_t = alpha`` for positives,
    ``p_t = 1 - p`` and ``a_t = 1 - alpha`` for negatives; ``alpha < 0`` disables the weighting.
    ``log(p_t)`` is computed from logits (numerically safe for large |logits|).
    """
    targets = targets.to(logits.dtype)
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")  # -log(p_t)
    p = torch.sigmoid(logits)
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * (1 - p_t).pow(gamma)
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return loss


def positive_weights(train_counts: np.ndarray, n_docs: int) -> torch.Tensor:
    """Per-code weight of positive examples, ``(N - n_c) / n_c`` (negatives over positives in train) for the
    class-weighted BCE; 1 for codes without train positives. ``[C]`` float32."""
    counts = np.asarray(train_counts, dtype=np.float64)
    weights = np.where(counts > 0, (n_docs - counts) / np.maximum(counts, 1), 1.0)
    return torch.as_tensor(np.maximum(weights, 1e-3), dtype=torch.float32)


def weighted_bce(logits: torch.Tensor, targets: torch.Tensor, pos_weight: torch.Tensor) -> torch.Tensor:
    """Class-weighted BCE: positives of code ``c`` weighted by ``pos_weight[c]`` (``[C]``)."""
    return weighted_bce_terms(logits, targets, pos_weight, reduction="mean")


def weighted_bce_terms(
    logits: torch.Tensor, targets: torch.Tensor, pos_weight: torch.Tensor, reduction: str = "none"
) -> torch.Tensor:
    """Class-weighted BCE per entry ``[B, C]`` (or reduced by torch's fused ``reduction``)."""
    return F.binary_cross_entropy_with_logits(
        logits, targets.to(logits.dtype), pos_weight=pos_weight.to(logits.device, logits.dtype), reduction=reduction
    )


class CodingLoss(torch.nn.Module):
    """The configured loss: ``bce``, ``focal``, ``wbce`` or ``focal+wbce`` (a sum)."""

    def __init__(self, kind: str, *, gamma: float = 2.0, alpha: float = 0.25, pos_weight: torch.Tensor | None = None):
        super().__init__()
        if "wbce" in kind and pos_weight is None:
            raise ValueError("class-weighted BCE needs pos_weight")
        self.kind, self.gamma, self.alpha = kind, gamma, alpha
        self.register_buffer("pos_weight", pos_weight if pos_weight is not None else torch.ones(0), persistent=False)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The scalar loss trained on: each configured term's mean over all ``B x C`` entries, summed."""
        logits = logits.float()  # losses in float32 under mixed precision
        if self.kind == "bce":  # torch's fused mean: its gradient differs from terms().mean()'s in the last bit
            return F.binary_cross_entropy_with_logits(logits, targets.float())
        loss = logits.new_zeros(())
        if "focal" in self.kind:
            loss = loss + focal_loss(logits, targets, self.gamma, self.alpha)
        if "wbce" in self.kind:
            loss = loss + weighted_bce(logits, targets, self.pos_weight)
        return loss

    def per_document(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The same loss for each document ``[B]`` (means over its ``C`` codes): their mean is ``forward``."""
        return sum(terms.mean(dim=1) for terms in self.terms(logits.float(), targets))

    def terms(self, logits: torch.Tensor, targets: torch.Tensor) -> list[torch.Tensor]:
        """Each configured term per entry ``[B, C]``."""
        if self.kind == "bce":
            return [F.binary_cross_entropy_with_logits(logits, targets.float(), reduction="none")]
        terms = []
        if "focal" in self.kind:
            terms.append(focal_terms(logits, targets, self.gamma, self.alpha))
        if "wbce" in self.kind:
            terms.append(weighted_bce_terms(logits, targets, self.pos_weight))
        return terms
