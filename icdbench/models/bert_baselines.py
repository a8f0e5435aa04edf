"""The two BERT baselines of the HMHAN paper (Sasikala et al. 2025, §III-E): an encoder read without attention
(``bert-cls``) and with one single-head attention pooling (``bert-attn``), each followed by fully connected
layers. They take the same input as HMHAN (one 512-token window) and train with the same optimisation and
loss, so the comparison isolates the attention design. Output biases start at each code's train prevalence
(``icdbench.models._priors``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from icdbench.models._fidelity import PRIOR_BIAS
from icdbench.models._priors import init_output_bias
from icdbench.models.base import ModelContext, ModelOutput
from icdbench.models.encoders import EncoderConfigMixin, SegmentEncoder, token_states
from icdbench.models.layers.attention import masked_softmax
from icdbench.models.registry import Fidelity, register_model, register_variant

PAPER = "Sasikala et al. 2025, HMHAN: hierarchical multi-head attention for ICD coding of radiology reports"

# Optimisation shared by HMHAN and its baselines (§IV-A): AdamW 5e-5, weight decay 1e-4, batch 32, focal
# (γ=2, α=0.25) + class-weighted BCE, early stopping on validation F1 with patience 5, 512 tokens.
HMHAN_TRAINING = {
    "optim.optimizer": "adamw",
    "optim.lr": 5e-5,
    "optim.weight_decay": 1e-4,
    "optim.batch_size": 32,
    "train.loss": "focal+wbce",
    "train.focal_gamma": 2.0,
    "train.focal_alpha": 0.25,
    "train.patience": 5,
    "data.segment_length": 512,
    "data.max_segments": 1,
}


class DenseStack(nn.Module):
    """Fully connected layers of decreasing width, each ``Linear → LayerNorm → ReLU → Dropout``.

    ``forward(x [..., in_dim])`` → ``[..., widths[-1]]`` (or ``x`` unchanged when ``widths`` is empty).
    """

    def __init__(self, in_dim: int, widths: list[int], dropout: float):
        super().__init__()
        layers: list[nn.Module] = []
        for width in widths:
            layers += [nn.Linear(in_dim, width), nn.LayerNorm(width), nn.ReLU(), nn.Dropout(dropout)]
            in_dim = width
        self.layers = nn.Sequential(*layers)
        self.out_dim = in_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


@dataclass
class BertBaselineConfig(EncoderConfigMixin):
    encoder: str = "bio-clinicalbert"  # the paper's baselines are BioClinicalBERT (§III-E)
    hidden_dims: list[int] = field(default_factory=lambda: [256])  # FC widths before the output layer
    dropout: float = 0.1


class BertCls(nn.Module):
    """Encoder → [CLS] state (averaged over the real segments when there are several) → FC → logits
    ``[B, C]``. The encoder's pooler is not used: sentence-transformer checkpoints such as MiniLM ship it
    untrained."""

    def __init__(self, config: BertBaselineConfig, ctx: ModelContext):
        super().__init__()
        self.encoder = SegmentEncoder(config.encoder)
        self.dense = DenseStack(self.encoder.hidden_size, config.hidden_dims, config.dropout)
        self.output = nn.Linear(self.dense.out_dim, ctx.n_codes)
        init_output_bias(self.output.bias, ctx)
        self.want_attributions = False

    def forward(self, batch: dict[str, torch.Tensor]) -> ModelOutput:
        batch_size, n_segments, length = batch["input_ids"].shape
        states, _ = token_states(self.encoder, batch)  # [B, S·L, H]
        cls = states.view(batch_size, n_segments, length, -1)[:, :, 0]  # [B, S, H]
        weights = batch["segment_mask"].to(cls.dtype)
        pooled = (cls * weights.unsqueeze(-1)).sum(1) / weights.sum(1, keepdim=True).clamp(min=1.0)
        return ModelOutput(logits=self.output(self.dense(pooled)))


class BertAttn(nn.Module):
    """Encoder → single-head additive attention pooling over all tokens (``α = softmax_t(v·tanh(W h_t))``,
    padding masked) → FC → logits ``[B, C]``. ``attributions`` ``[B, C, T]`` repeats the one attention
    distribution for every code."""

    def __init__(self, config: BertBaselineConfig, ctx: ModelContext):
        super().__init__()
        self.encoder = SegmentEncoder(config.encoder)
        hidden = self.encoder.hidden_size
        self.project = nn.Linear(hidden, hidden)
        self.score = nn.Linear(hidden, 1, bias=False)
        self.dense = DenseStack(hidden, config.hidden_dims, config.dropout)
        self.output = nn.Linear(self.dense.out_dim, ctx.n_codes)
        init_output_bias(self.output.bias, ctx)
        self.want_attributions = False

    def forward(self, batch: dict[str, torch.Tensor]) -> ModelOutput:
        states, mask = token_states(self.encoder, batch)  # [B, T, H], [B, T]
        weights = masked_softmax(self.score(torch.tanh(self.project(states))).squeeze(-1), mask)  # [B, T]
        pooled = torch.bmm(weights.unsqueeze(1), states).squeeze(1)  # [B, H]
        logits = self.output(self.dense(pooled))
        if not self.want_attributions:
            return ModelOutput(logits=logits)
        return ModelOutput(logits=logits, attributions=weights.unsqueeze(1).expand(-1, logits.shape[1], -1))


BASELINE_FIDELITY = Fidelity(reference="none public: built from the HMHAN paper (§III-E)", departures=(PRIOR_BIAS,))


@register_model(
    "bert-cls",
    family="hmhan",
    paper=PAPER,
    inputs="segments",
    config=BertBaselineConfig,
    train_defaults=HMHAN_TRAINING,
    fidelity=BASELINE_FIDELITY,
)
def build_bert_cls(config: BertBaselineConfig, ctx: ModelContext) -> BertCls:
    return BertCls(config, ctx)


def build_bert_attn(config: BertBaselineConfig, ctx: ModelContext) -> BertAttn:
    return BertAttn(config, ctx)


register_variant("bert-cls", "bert-attn", build=build_bert_attn)  # the same baseline but for its pooling
