"""Pooling over positions that respects padding."""

from __future__ import annotations

import torch


def masked_max(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Max over positions of ``states`` [B, T, D] where ``mask`` [B, T] (bool) is True → [B, D].

    A row with no valid position gives zeros, so an empty document or title never produces ``-inf``.
    """
    mask = mask.to(torch.bool).unsqueeze(-1)
    filled = states.masked_fill(~mask, torch.finfo(states.dtype).min)
    return torch.where(mask.any(dim=1), filled.amax(dim=1), torch.zeros((), dtype=states.dtype))
