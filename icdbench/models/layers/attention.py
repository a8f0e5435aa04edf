"""Attention layers shared by the label-attention models (CAML, MultiResCNN, LAAT, JointLAAT, PLM-ICD, ...).

Shapes use ``B`` batch, ``T`` positions (tokens), ``D`` input features, ``C`` codes, ``d_a`` attention size.
Every softmax over positions goes through :func:`masked_softmax`, so padded positions get exactly zero weight
and a row with no valid position yields zeros instead of NaN (a known failure of label-attention code).
"""

from __future__ import annotations

import math

import torch
from torch import nn


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor | None, dim: int = -1) -> torch.Tensor:
    """Softmax of ``scores`` along ``dim`` ignoring positions where ``mask`` is False.

    ``mask`` (bool) must broadcast to ``scores`` (e.g. ``[B, 1, T]`` for scores ``[B, C, T]``). Masked
    positions get weight exactly 0; a slice whose positions are all masked gets all zeros (never NaN).
    The mask enters as an additive bias of the dtype's most negative finite value (not ``-inf``, which keeps
    fp16/bf16 finite): built at the mask's size, it costs one pass over ``scores`` where a fill and a multiply
    cost two (label attention over thousands of codes is the bulk of CAML's forward pass).
    """
    if mask is None:
        return torch.softmax(scores, dim=dim)
    mask = mask.to(torch.bool)
    bias = torch.zeros(mask.shape, dtype=scores.dtype, device=scores.device).masked_fill_(
        ~mask, torch.finfo(scores.dtype).min
    )
    weights = torch.softmax(scores + bias, dim=dim)
    empty = ~mask.any(dim=dim, keepdim=True)  # slices with no valid position: uniform above, zeros here
    return weights.masked_fill(empty, 0.0) if bool(empty.any()) else weights


def attend(weights: torch.Tensor, states: torch.Tensor) -> torch.Tensor:
    """Weighted sums of ``states`` [B, T, D] with ``weights`` [B, C, T] → per-code vectors [B, C, D]."""
    return torch.bmm(weights, states)


class PerCodeLinear(nn.Module):
    """The per-code output layer of CAML/LAAT: ``logit_c = β_c · v_c + b_c`` (no weight sharing across codes).

    Input ``[B, C, D]`` (one vector per code), output logits ``[B, C]``. ``weight`` is ``[C, D]`` so
    DR-CAML can regularise it directly.
    """

    def __init__(self, in_dim: int, n_codes: int, init_std: float | None = None):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_codes, in_dim))
        self.bias = nn.Parameter(torch.empty(n_codes))
        # Weights: Xavier (CAML/MultiResCNN releases) or N(0, init_std²) (LAAT release); bias as nn.Linear's.
        if init_std is None:
            nn.init.xavier_uniform_(self.weight)
        else:
            nn.init.normal_(self.weight, std=init_std)
        bound = 1.0 / math.sqrt(in_dim)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, per_code: torch.Tensor) -> torch.Tensor:
        return (per_code * self.weight).sum(dim=-1) + self.bias


class CamlAttention(nn.Module):
    """CAML per-code attention (Mullenbach et al. 2018, eq. 2–3): each code ``c`` has a query ``u_c``;
    ``α_c = softmax_t(h_t · u_c)``, ``v_c = Σ_t α_{c,t} h_t``.

    ``forward(states [B, T, D], mask [B, T] bool)`` → ``(per_code [B, C, D], weights [B, C, T])``.
    Queries use Xavier-uniform initialisation as in the authors' release.
    """

    def __init__(self, in_dim: int, n_codes: int):
        super().__init__()
        self.queries = nn.Parameter(torch.empty(n_codes, in_dim))
        nn.init.xavier_uniform_(self.queries)

    def forward(self, states: torch.Tensor, mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        scores = torch.matmul(self.queries, states.transpose(1, 2))  # [B, C, T]
        weights = masked_softmax(scores, None if mask is None else mask.unsqueeze(1), dim=-1)
        return attend(weights, states), weights


class LabelAttention(nn.Module):
    """LAAT label attention (Vu et al. 2020, eq. 4–6): ``Z = tanh(W·H)``, ``A = softmax_t(U·Z)``, ``V = A·H``.

    ``W`` is ``[d_a, D]`` and ``U`` is ``[C, d_a]``, both without bias. ``forward(states [B, T, D],
    mask [B, T] bool)`` → ``(per_code [B, C, D], weights [B, C, T])``. Padding is masked before the softmax.
    Weights are drawn from N(0, ``init_std``²) (0.03 in the LAAT release; PLM-ICD passes its encoder's 0.02).
    """

    def __init__(self, in_dim: int, n_codes: int, attention_dim: int, init_std: float = 0.03):
        super().__init__()
        self.project = nn.Linear(in_dim, attention_dim, bias=False)  # W
        self.queries = nn.Linear(attention_dim, n_codes, bias=False)  # U
        nn.init.normal_(self.project.weight, std=init_std)
        nn.init.normal_(self.queries.weight, std=init_std)

    def forward(self, states: torch.Tensor, mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        z = torch.tanh(self.project(states))  # [B, T, d_a]
        scores = self.queries(z).transpose(1, 2)  # [B, C, T]
        weights = masked_softmax(scores, None if mask is None else mask.unsqueeze(1), dim=-1)
        return attend(weights, states), weights
