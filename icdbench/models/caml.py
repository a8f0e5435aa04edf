"""``caml`` and ``dr-caml``: Convolutional Attention for Multi-Label classification (Mullenbach et al.
2018, NAACL, "Explainable Prediction of Medical Codes from Clinical Text").

Follows the paper and the authors' MIMIC-III-full scripts: word2vec embeddings (CBOW, 100-d, each vector
scaled to length 1 as the release loads them) with dropout
0.2 → one 1-D convolution (kernel 10, 50 filters, Xavier init) → tanh → per-code attention (each code has a
query ``u_c``; ``α_c = softmax_t(h_t · u_c)``; ``v_c = Σ_t α_{c,t} h_t``) → per-code logit
``β_c · v_c + b_c``. Optimisation: Adam, lr 1e-4, batch 16, up to 200 epochs, early stopping on validation
P@8 with patience 10, documents truncated to 2,500 tokens.

``dr-caml`` adds the description regulariser (λ = 0.01): each code's title is embedded (its own
copy of the word2vec embeddings, as in the release), convolved with the same kernel and filter count,
passed through tanh, max-pooled, and projected by a linear layer to ``z_c``; the loss adds
``λ · (1/|y|) Σ_{c: y_c = 1} ||z_c − β_c||²`` per document, averaged over the documents with at least one
code. Titles are the code's long + short title (``ModelContext.title_ids``).

The convolutions (text and titles) pad ``floor(k/2) = 5`` positions on both sides, as the release (and
Edin et al.'s reimplementation) do: with the even kernel 10 that gives T + 1 states, the first a window that
starts five positions before the text. Its attention weight is attributed to the first token, so
attributions stay one per token. ``pad_both_sides=false`` pads "same" (4 left, 5 right) instead.

Departures, deliberate, each with a switch that restores the release (the equivalence test against Edin et
al.'s CAML, ``tests/models/test_reference_equivalence.py``, turns them off):

- padded positions are masked out of the attention softmax, so a document's logits do not depend on its
  batch mates (the release relied on length-sorted batches; ``mask_padding=false``); title padding is
  always masked out of DR-CAML's title max-pool;
- every code's output bias starts at its train prevalence (``icdbench.models._priors``), not at PyTorch's
  default initialisation (``prior_bias=false``).

DR-CAML's regulariser follows the paper's squared-norm form rather than the release's per-element mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from icdbench.errors import UserError
from icdbench.models._checks import require_fraction, require_positive
from icdbench.models._fidelity import EDIN_SHARED, PRIOR_BIAS_SWITCH, UNIT_WORD_VECTORS, masked_padding
from icdbench.models._priors import init_output_bias
from icdbench.models._recipes import MULLENBACH_BASELINE
from icdbench.models.base import ModelContext, ModelOutput, MullenbachWordsConfig
from icdbench.models.layers import CamlAttention, PerCodeLinear, SameConv1d, WordEmbedding, masked_max
from icdbench.models.registry import Departure, Fidelity, register_model, register_variant


@dataclass
class CamlConfig(MullenbachWordsConfig):
    kernel_size: int = 10
    num_filters: int = 50
    dropout: float = 0.2  # on the word embeddings
    description_weight: float = 0.0  # λ of DR-CAML's description regulariser; 0 = plain CAML
    pad_both_sides: bool = True  # the release's floor(k/2) padding on each side (T + 1 states); False: "same"
    mask_padding: bool = True  # False: padded positions take attention weight, as in the release
    prior_bias: bool = True  # False: output biases keep PyTorch's initialisation, as in the release


class DescriptionRegulariser(nn.Module):
    """DR-CAML's title encoder and its loss. ``forward(output_weight [C, F], targets [B, C])`` → scalar."""

    def __init__(self, config: CamlConfig, ctx: ModelContext):
        super().__init__()
        if ctx.title_ids is None or ctx.title_ids.shape[0] != ctx.n_codes:
            raise UserError("dr-caml needs code titles as word ids (ModelContext.title_ids, a row per code)")
        self.register_buffer("title_ids", ctx.title_ids.long(), persistent=False)  # [C, Lt]
        self.embedding = WordEmbedding(ctx, config.embed_dim, unit_norm=config.unit_word_vectors)
        self.conv = SameConv1d(
            config.embed_dim, config.num_filters, config.kernel_size, pad_both_sides=config.pad_both_sides
        )
        self.project = nn.Linear(config.num_filters, config.num_filters)
        nn.init.xavier_uniform_(self.project.weight)
        self.weight = config.description_weight

    def encode(self, codes: torch.Tensor) -> torch.Tensor:
        """Title vectors ``z`` [K, F] of the code indices ``codes`` [K]."""
        ids = self.title_ids[codes]
        states = torch.tanh(self.conv(self.embedding(ids).transpose(1, 2))).transpose(1, 2)
        words = ids != 0
        extra = words[:, :1].expand(-1, self.conv.extra_outputs)  # windows before the title: if it has words
        return self.project(masked_max(states, torch.cat([extra, words], dim=1)))

    def forward(self, output_weight: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        positive = targets > 0.5
        codes = positive.any(dim=0).nonzero().squeeze(1)  # only the codes present in the batch
        if codes.numel() == 0:
            return output_weight.sum() * 0.0
        distance = (self.encode(codes) - output_weight[codes]).pow(2).sum(dim=-1)  # [K]
        member = positive[:, codes].to(distance.dtype)  # [B, K]
        n_codes = member.sum(dim=1)
        per_doc = (member * distance).sum(dim=1) / n_codes.clamp(min=1)
        return self.weight * per_doc[n_codes > 0].mean()


class Caml(nn.Module):
    """``forward(batch)`` with ``input_ids`` / ``mask`` [B, T] → :class:`ModelOutput`: logits [B, C], the
    description loss as ``aux_loss`` (DR-CAML, when ``targets`` are in the batch) and the attention [B, C, T]
    as ``attributions`` when ``want_attributions`` is set."""

    def __init__(self, config: CamlConfig, ctx: ModelContext):
        super().__init__()
        self.want_attributions = False
        self.embedding = WordEmbedding(ctx, config.embed_dim, config.dropout, unit_norm=config.unit_word_vectors)
        self.conv = SameConv1d(
            config.embed_dim, config.num_filters, config.kernel_size, pad_both_sides=config.pad_both_sides
        )
        self.mask_padding = config.mask_padding
        self.attention = CamlAttention(config.num_filters, ctx.n_codes)
        self.output = PerCodeLinear(config.num_filters, ctx.n_codes)
        if config.prior_bias:
            init_output_bias(self.output.bias, ctx)
        self.description = DescriptionRegulariser(config, ctx) if config.description_weight > 0 else None

    def forward(self, batch: dict[str, torch.Tensor]) -> ModelOutput:
        x = self.embedding(batch["input_ids"]).transpose(1, 2)  # [B, E, T]
        states = torch.tanh(self.conv(x)).transpose(1, 2)  # [B, extra + T, F]
        extra = self.conv.extra_outputs  # states before the first token's (pad_both_sides, even kernel)
        mask = F.pad(batch["mask"], (extra, 0), value=True) if self.mask_padding else None
        per_code, weights = self.attention(states, mask)
        logits = self.output(per_code)
        aux = None
        if self.description is not None and "targets" in batch:
            aux = self.description(self.output.weight, batch["targets"])
        attributions = None
        if self.want_attributions:  # one weight per token: windows before the text go to the first token
            attributions = weights[..., extra:].clone()
            attributions[..., 0] += weights[..., :extra].sum(-1)
        return ModelOutput(logits=logits, aux_loss=aux, attributions=attributions)


# Mullenbach et al. 2018 train CAML as their baselines but at lr 1e-4 for up to 200 epochs (the release's
# MIMIC-III-full scripts).
_CAML_TRAINING = {**MULLENBACH_BASELINE, "optim.lr": 1e-4, "optim.epochs": 200}


CAML_FIDELITY = Fidelity(
    reference="jamesmullenbach/caml-mimic (the release's training commands: benchmarks/experiments/mimic3-*/); "
    "Edin et al.'s CAML (tests/models/test_reference_equivalence.py)",
    departures=(masked_padding("the attention softmax"), PRIOR_BIAS_SWITCH, UNIT_WORD_VECTORS, *EDIN_SHARED),
)
DR_CAML_FIDELITY = Fidelity(
    reference="jamesmullenbach/caml-mimic (DRCAML_mimic3_{full,50}/train_new_model.sh: lambda 0.01 and 10)",
    departures=(
        *CAML_FIDELITY.departures,
        Departure("deliberate", "the description regulariser is the paper's squared norm, not the release's "
                  "per-element mean; title padding is kept out of the title max-pool"),
    ),
)


def _build(config: CamlConfig, ctx: ModelContext) -> Caml:
    require_positive("caml", config, "embed_dim", "kernel_size", "num_filters")
    require_fraction("caml", config, "dropout")
    if config.description_weight < 0:
        raise UserError(f"caml: description_weight must be >= 0, got {config.description_weight!r}")
    return Caml(config, ctx)


register_model(
    "caml",
    family="caml",
    paper="Mullenbach et al. 2018, NAACL",
    inputs="words",
    config=CamlConfig,
    train_defaults=_CAML_TRAINING,
    fidelity=CAML_FIDELITY,
)(_build)
register_variant("caml", "dr-caml", paper="Mullenbach et al. 2018, NAACL (description-regularised CAML)",
                 config_defaults={"description_weight": 0.01}, fidelity=DR_CAML_FIDELITY)
