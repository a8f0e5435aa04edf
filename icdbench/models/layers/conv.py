"""Convolution over token sequences that keeps one output per token."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SameConv1d(nn.Conv1d):
    """``nn.Conv1d`` (stride 1) zero-padded so that ``[B, D_in, T]`` → ``[B, D_out, T]`` for any kernel size.

    Even kernels pad one more position on the right, as ``padding="same"`` does, but without the warning and
    the extra copy PyTorch makes for that case. ``xavier``: Xavier-uniform weights, as the CAML and
    MultiResCNN releases initialise their text convolutions (otherwise PyTorch's default).
    ``pad_both_sides``: pad ``k // 2`` on each side instead, as the CAML, MultiResCNN and Edin et al. releases
    do (``padding=floor(k/2)``); an even kernel then gives ``T + 1`` outputs, the first one a window that
    starts before the text (:attr:`extra_outputs` says how many outputs precede the first token's).
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        kernel_size: int,
        bias: bool = True,
        xavier: bool = True,
        pad_both_sides: bool = False,
    ):
        half = kernel_size // 2
        left = half if pad_both_sides else (kernel_size - 1) // 2
        # equal sides: the convolution pads itself (no padded copy of the input)
        super().__init__(in_dim, out_dim, kernel_size, bias=bias, padding=half if left == half else 0)
        if xavier:
            nn.init.xavier_uniform_(self.weight)
        self.pad = None if left == half else (left, half)
        self.extra_outputs = left + half - (kernel_size - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x if self.pad is None else F.pad(x, self.pad))
