"""HMHAN (Sasikala et al. 2025): hierarchical multi-head label attention over clinical-BERT token states.

Architecture (paper §III-F, §IV-A), shapes with ``B`` batch, ``T`` tokens (≤ 512), ``H`` encoder width,
``K`` categories, ``C`` codes:

1. encoder token states ``[B, T, H]`` (Bio_ClinicalBERT, the paper's and the default; ``encoder=`` substitutes);
2. category level: multi-head attention (4 heads) with one learned query per ICD category — the code's
   3-character category (``category_level=3char``) or its chapter (``chapter``, the root-most ancestor) —
   gives category context vectors ``[B, K, H]`` and, through a per-category output layer, category logits
   ``[B, K]``;
3. code level: multi-head attention (4 heads) with one learned query per code gives ``[B, C, H]``; each code's
   vector is concatenated with its parent category's context vector;
4. demographics (age z-scored, sex one-hot F/M; zeros when the split lacks them) are appended to every code's
   vector; fully connected layers of decreasing width (``Linear → LayerNorm → ReLU → Dropout``) and a per-code
   output layer give the logits ``[B, C]`` (the sigmoid is applied by the loss and at scoring).

Loss: the main loss is focal (γ=2, α=0.25) + class-weighted BCE on the codes (``train.loss=focal+wbce``,
applied by the training loop). ``aux_loss`` adds ``category_loss_weight`` × BCE of the category logits against
"any code of the category is positive", plus ``consistency_weight`` × the mean squared excess of a code's
probability over its category's probability (a code cannot be likelier than its category, since the category
is positive whenever the code is) — the paper names no formula for tying the two levels; this is our choice.

Multi-label SMOTE (``smote=true``, the paper's setting) resamples frozen encoder features before the
attention layers are trained: the encoder is frozen, its token states are cached, MLSMOTE
(:mod:`icdbench.training.families.hmhan_smote`) adds synthetic token-state sequences, and the layers above
train on them (:mod:`icdbench.training.families.hmhan`, this family's runner on the training floor). With
``smote=false`` (``hmhan-nosmote``) the encoder is fine-tuned end to end with the attention layers.

Not given by the paper and chosen here: FC widths 512 → 256, dropout 0.3, the consistency term above, and
output biases that start at each code's (category's) train prevalence (:mod:`icdbench.models._priors`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from icdbench.errors import UserError
from icdbench.models._checks import require_positive
from icdbench.models._fidelity import PRIOR_BIAS
from icdbench.models._priors import init_output_bias, init_prior_bias
from icdbench.models.base import ModelContext, ModelOutput
from icdbench.models.bert_baselines import HMHAN_TRAINING, PAPER, DenseStack
from icdbench.models.encoders import EncoderConfigMixin, SegmentEncoder, token_states
from icdbench.models.layers.attention import PerCodeLinear, masked_softmax
from icdbench.models.registry import Departure, Fidelity, register_model, register_variant

N_DEMOGRAPHICS = 3  # age (z-scored), sex F, sex M


@dataclass
class HmhanConfig(EncoderConfigMixin):
    encoder: str = "bio-clinicalbert"  # §III-C
    heads: int = 4  # attention heads at each level (§IV-A)
    category_level: Literal["3char", "chapter"] = "3char"
    hidden_dims: list[int] = field(default_factory=lambda: [512, 256])  # "stepwise smaller" FC layers
    dropout: float = 0.3
    category_loss_weight: float = 1.0
    consistency_weight: float = 1.0
    smote: bool = True  # multi-label SMOTE on frozen encoder features (the paper's setting)
    smote_k: int = 5  # neighbours per minority sample (MLSMOTE's default)


def category_of(code: str, ancestors: list[str], level: str) -> str:
    """The category a code belongs to: its 3-character category (the part before the dot for ICD-9/ICD-10-CM —
    ``J18.9`` → ``J18``, ``45.13`` → ``45``; the first 3 characters of an undotted code such as ICD-10-PCS) or
    its chapter (the root-most ancestor; the 3-character category when the code has no ancestors)."""
    if level == "chapter" and ancestors:
        return ancestors[-1]
    head = code.split(".")[0]
    return head if "." in code else head[:3]


def category_index(ctx: ModelContext, level: str) -> tuple[list[str], torch.Tensor]:
    """Categories (in order of first appearance) and the category index of every code ``[C]``."""
    names = [category_of(code, anc, level) for code, anc in zip(ctx.codes, ctx.ancestors)]
    order = list(dict.fromkeys(names))
    position = {name: i for i, name in enumerate(order)}
    return order, torch.tensor([position[name] for name in names], dtype=torch.long)


def demographics(batch: dict[str, torch.Tensor], dtype: torch.dtype) -> torch.Tensor:
    """``[B, 3]``: z-scored age, then sex one-hot (F, M); unknown sex (0) is all zeros."""
    sex = F.one_hot(batch["sex"].long().clamp(0, 2), num_classes=3)[:, 1:]
    return torch.cat([batch["age"].unsqueeze(-1), sex], dim=-1).to(dtype)


class MultiHeadLabelAttention(nn.Module):
    """Multi-head scaled dot-product attention (Vaswani et al. 2017) with one learned query per label.

    Keys and values are linear projections of the token states, split into ``heads`` heads of width
    ``H / heads``; each label's query is a free parameter per head (a query projection on top of a free
    parameter would add nothing), so nothing is recomputed per document for the queries — with thousands of
    codes that is most of ``nn.MultiheadAttention``'s cost. The heads' contexts are concatenated; the FC
    layers that follow play the output projection's part. Padding gets zero weight (shared ``masked_softmax``).

    ``forward(states [B, T, H], mask [B, T] bool, need_weights)`` → ``(context [B, N, H], weights [B, N, T]
    averaged over heads, or None)``.
    """

    def __init__(self, hidden: int, n_labels: int, heads: int):
        super().__init__()
        self.heads = heads
        self.queries = nn.Parameter(torch.empty(n_labels, hidden))
        nn.init.xavier_uniform_(self.queries)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)

    def forward(
        self, states: torch.Tensor, mask: torch.Tensor, need_weights: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        batch, length, hidden = states.shape
        width = hidden // self.heads
        split = (batch, length, self.heads, width)
        keys = self.key(states).view(split).transpose(1, 2)  # [B, h, T, d]
        values = self.value(states).view(split).transpose(1, 2)  # [B, h, T, d]
        queries = self.queries.to(states.dtype).view(-1, self.heads, width).transpose(0, 1)  # [h, N, d]
        scores = torch.matmul(queries, keys.transpose(-1, -2)) / math.sqrt(width)  # [B, h, N, T]
        weights = masked_softmax(scores, mask[:, None, None, :])
        context = torch.matmul(weights, values).transpose(1, 2).reshape(batch, -1, hidden)  # [B, N, H]
        return context, weights.mean(dim=1) if need_weights else None


class Hmhan(nn.Module):
    """``forward(batch)`` → :class:`ModelOutput` (logits ``[B, C]``, ``aux_loss``, code-level attention
    ``[B, C, T]`` as attributions when ``want_attributions``; ``extras["category_logits"]`` ``[B, K]``).
    Batches carry either ``segments`` keys or precomputed ``token_states``/``token_mask`` (SMOTE stage)."""

    def __init__(self, config: HmhanConfig, ctx: ModelContext):
        super().__init__()
        require_positive("hmhan", config, "heads", "smote_k")
        self.config = config
        self.encoder = SegmentEncoder(config.encoder, freeze=config.smote)
        hidden = self.encoder.hidden_size
        if hidden % config.heads:
            raise UserError(f"hmhan: the encoder width {hidden} is not divisible by heads={config.heads}")
        self.categories, code_category = category_index(ctx, config.category_level)
        self.register_buffer("code_category", code_category, persistent=False)
        self.category_attention = MultiHeadLabelAttention(hidden, len(self.categories), config.heads)
        self.category_output = PerCodeLinear(hidden, len(self.categories))
        self.code_attention = MultiHeadLabelAttention(hidden, ctx.n_codes, config.heads)
        self.dense = DenseStack(2 * hidden + N_DEMOGRAPHICS, config.hidden_dims, config.dropout)
        self.output = PerCodeLinear(self.dense.out_dim, ctx.n_codes)
        init_output_bias(self.output.bias, ctx)
        # a category is at least as frequent as its commonest code and at most as the sum of its codes'
        category_counts = np.zeros(len(self.categories))
        np.add.at(category_counts, code_category.numpy(), ctx.train_counts)
        init_prior_bias(self.category_output.bias, np.minimum(category_counts, ctx.n_train_docs), ctx.n_train_docs)
        self.want_attributions = False

    def forward(self, batch: dict[str, torch.Tensor]) -> ModelOutput:
        states, mask = token_states(self.encoder, batch)  # [B, T, H], [B, T]
        category_context, _ = self.category_attention(states, mask)  # [B, K, H]
        category_logits = self.category_output(category_context)  # [B, K]
        code_context, weights = self.code_attention(states, mask, self.want_attributions)  # [B, C, H]
        parent_context = category_context[:, self.code_category]  # [B, C, H]
        extra = demographics(batch, states.dtype).unsqueeze(1).expand(-1, code_context.shape[1], -1)
        per_code = self.dense(torch.cat([code_context, parent_context, extra], dim=-1))
        logits = self.output(per_code)  # [B, C]
        aux = self.hierarchy_loss(logits, category_logits, batch["targets"]) if "targets" in batch else None
        return ModelOutput(
            logits=logits,
            aux_loss=aux,
            attributions=weights,
            extras={"category_logits": category_logits},
        )

    def category_targets(self, targets: torch.Tensor) -> torch.Tensor:
        """``[B, K]``: 1 where any code of the category is positive."""
        index = self.code_category.expand(targets.shape[0], -1)
        empty = targets.new_zeros(targets.shape[0], len(self.categories))
        return empty.scatter_reduce(1, index, targets.float(), reduce="amax", include_self=True)

    def hierarchy_loss(
        self, logits: torch.Tensor, category_logits: torch.Tensor, targets: torch.Tensor
    ) -> torch.Tensor:
        category_loss = F.binary_cross_entropy_with_logits(category_logits.float(), self.category_targets(targets))
        excess = torch.sigmoid(logits.float()) - torch.sigmoid(category_logits.float())[:, self.code_category]
        consistency = excess.clamp(min=0).pow(2).mean()
        return self.config.category_loss_weight * category_loss + self.config.consistency_weight * consistency


HMHAN_FIDELITY = Fidelity(
    reference="none public: built from the paper (§III-F, §IV-A)",
    departures=(
        Departure("deliberate", "where the paper is silent, chosen here: fully connected widths 512 -> 256, "
                  "dropout 0.3, the code-category consistency term"),
        PRIOR_BIAS,
    ),
)


@register_model(
    "hmhan",
    family="hmhan",
    paper=PAPER,
    inputs="segments",
    config=HmhanConfig,
    train_defaults=HMHAN_TRAINING,
    trainer="custom",
    fidelity=HMHAN_FIDELITY,
)
def build_hmhan(config: HmhanConfig, ctx: ModelContext) -> Hmhan:
    return Hmhan(config, ctx)


register_variant("hmhan", "hmhan-nosmote", config_defaults={"smote": False})
