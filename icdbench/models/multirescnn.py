"""``multirescnn``: Multi-Filter Residual CNN (Li & Yu 2020, AAAI, "ICD Coding from Clinical Text Using
Multi-Filter Residual Convolutional Neural Network").

Follows the paper and the authors' release: word2vec embeddings (100-d, CAML's) with dropout 0.2 → six
parallel channels with kernels 3, 5, 9, 15, 19, 25; each channel is a convolution keeping the embedding
width (tanh) followed by one residual block (conv → batch norm → tanh → conv → batch norm, plus a 1×1
conv + batch norm shortcut, tanh, dropout) with 50 filters; the six outputs are concatenated (300-d per
token) and read by CAML's per-code attention and per-code output layer. With more residual blocks the widths
step down as in the release (…, 150, 100, 50). The word2vec vectors are fine-tuned: every published command
of the release passes ``-tune_wordemb`` (the release freezes them only without it), and Edin et al. train
them too; ``freeze_embeddings=true`` keeps them fixed. Optimisation: Adam, lr 1e-4, batch 16, up to 500
epochs, early stopping on validation P@8 with patience 10, documents truncated to 2,500 tokens.

Departures, deliberate, each with a switch that restores the release (the equivalence test against Edin et
al.'s MultiResCNN turns them off):

- padded positions are zeroed between layers and masked out of the attention softmax, so a document's
  logits (in eval mode) do not depend on the other documents of its batch (``mask_padding=false``);
  batch-norm statistics in training still include the padded positions, as in the release;
- every code's output bias starts at its train prevalence (``icdbench.models._priors``), not at PyTorch's
  default initialisation (``prior_bias=false``).

Edin et al.'s reimplementation differs from Li & Yu's release in two places: the first convolution of each
channel has no bias there (here it has one, as in the release), and their attention module (CAML's) applies
tanh once more to the concatenated channel outputs; ``tanh_before_attention=true`` does the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from icdbench.errors import UserError
from icdbench.models._checks import require_fraction, require_positive
from icdbench.models._fidelity import EDIN_SHARED, PRIOR_BIAS_SWITCH, masked_padding
from icdbench.models._priors import init_output_bias
from icdbench.models._recipes import MULLENBACH_BASELINE
from icdbench.models.base import CamlVocabularyConfig, ModelContext, ModelOutput
from icdbench.models.layers import CamlAttention, PerCodeLinear, SameConv1d, WordEmbedding
from icdbench.models.registry import Departure, Fidelity, register_model


@dataclass
class MultiResCnnConfig(CamlVocabularyConfig):
    kernel_sizes: list[int] = field(default_factory=lambda: [3, 5, 9, 15, 19, 25])
    num_filters: int = 50
    residual_blocks: int = 1
    dropout: float = 0.2  # on the word embeddings and after each residual block
    freeze_embeddings: bool = False
    mask_padding: bool = True  # False: padding flows through the layers and takes attention, as in the release
    prior_bias: bool = True  # False: output biases keep PyTorch's initialisation, as in the release
    tanh_before_attention: bool = False  # True: Edin et al.'s extra tanh on the channel outputs


class ResidualBlock(nn.Module):
    """``forward(x [B, D_in, T], keep [B, 1, T])`` → ``[B, D_out, T]`` with padded positions zeroed."""

    def __init__(self, in_dim: int, out_dim: int, kernel_size: int, dropout: float):
        super().__init__()
        self.conv1 = SameConv1d(in_dim, out_dim, kernel_size, bias=False, xavier=False)
        self.norm1 = nn.BatchNorm1d(out_dim)
        self.conv2 = SameConv1d(out_dim, out_dim, kernel_size, bias=False, xavier=False)
        self.norm2 = nn.BatchNorm1d(out_dim)
        self.shortcut = nn.Sequential(
            SameConv1d(in_dim, out_dim, 1, bias=False, xavier=False), nn.BatchNorm1d(out_dim)
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        hidden = torch.tanh(self.norm1(self.conv1(x))) * keep
        out = torch.tanh(self.norm2(self.conv2(hidden)) + self.shortcut(x))
        return self.dropout(out) * keep


class FilterChannel(nn.Module):
    """One kernel size: base convolution (tanh) then the residual blocks."""

    def __init__(self, embed_dim: int, widths: list[int], kernel_size: int, dropout: float):
        super().__init__()
        self.base = SameConv1d(embed_dim, embed_dim, kernel_size)
        self.blocks = nn.ModuleList(
            ResidualBlock(widths[i], widths[i + 1], kernel_size, dropout) for i in range(len(widths) - 1)
        )

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        x = torch.tanh(self.base(x)) * keep
        for block in self.blocks:
            x = block(x, keep)
        return x


class MultiResCnn(nn.Module):
    """``forward(batch)`` with ``input_ids`` / ``mask`` [B, T] → :class:`ModelOutput` with logits [B, C] and
    the attention [B, C, T] as ``attributions`` when ``want_attributions`` is set."""

    def __init__(self, config: MultiResCnnConfig, ctx: ModelContext):
        super().__init__()
        self.want_attributions = False
        self.embedding = WordEmbedding(ctx, config.embed_dim, config.dropout, freeze=config.freeze_embeddings)
        n = config.residual_blocks
        widths = [config.embed_dim] + [config.num_filters * (n - i) for i in range(n)]
        self.channels = nn.ModuleList(
            FilterChannel(config.embed_dim, widths, k, config.dropout) for k in config.kernel_sizes
        )
        width = config.num_filters * len(config.kernel_sizes)
        self.attention = CamlAttention(width, ctx.n_codes)
        self.output = PerCodeLinear(width, ctx.n_codes)
        self.mask_padding = config.mask_padding
        self.tanh_before_attention = config.tanh_before_attention
        if config.prior_bias:
            init_output_bias(self.output.bias, ctx)

    def forward(self, batch: dict[str, torch.Tensor]) -> ModelOutput:
        mask = batch["mask"] if self.mask_padding else None
        x = self.embedding(batch["input_ids"]).transpose(1, 2)  # [B, E, T]
        keep = mask.unsqueeze(1).to(x.dtype) if mask is not None else x.new_ones(())  # [B, 1, T]
        states = torch.cat([channel(x, keep) for channel in self.channels], dim=1).transpose(1, 2)
        if self.tanh_before_attention:
            states = torch.tanh(states)
        per_code, weights = self.attention(states, mask)
        attributions = weights if self.want_attributions else None
        return ModelOutput(logits=self.output(per_code), attributions=attributions)


MULTIRESCNN_FIDELITY = Fidelity(
    reference="foxlf823/Multi-Filter-Residual-Convolutional-Neural-Network (Li & Yu's release); Edin et al.'s "
    "MultiResCNN (tests/models/test_reference_equivalence.py)",
    departures=(
        masked_padding("every layer and the attention softmax (batch-norm statistics still see it)"),
        PRIOR_BIAS_SWITCH,
        Departure("deliberate", "follows Li & Yu's release where Edin et al.'s reimplementation differs: the "
                  "first convolution of each channel has a bias, no extra tanh before the attention "
                  "(tanh_before_attention=true matches Edin et al.)"),
        *EDIN_SHARED,
    ),
)


@register_model(
    "multirescnn",
    family="multirescnn",
    paper="Li & Yu 2020, AAAI",
    inputs="words",
    config=MultiResCnnConfig,
    # Li & Yu 2020 and their release: lr 1e-4, up to 500 epochs.
    train_defaults={**MULLENBACH_BASELINE, "optim.lr": 1e-4, "optim.epochs": 500},
    fidelity=MULTIRESCNN_FIDELITY,
)
def build_multirescnn(config: MultiResCnnConfig, ctx: ModelContext) -> MultiResCnn:
    require_positive("multirescnn", config, "embed_dim", "num_filters", "residual_blocks")
    require_fraction("multirescnn", config, "dropout")
    if not config.kernel_sizes or min(config.kernel_sizes) <= 0:
        raise UserError(f"multirescnn: kernel_sizes must be positive integers, got {config.kernel_sizes!r}")
    return MultiResCnn(config, ctx)
