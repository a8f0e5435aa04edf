"""``laat`` and ``jointlaat``: the Label Attention model and its hierarchical joint learning variant (Vu,
Nguyen & Nguyen 2020, IJCAI, "A Label Attention Model for ICD Coding from Clinical Text").

Follows the paper and the authors' release (MIMIC-III full): word2vec embeddings (CBOW, 100-d) with dropout
0.3 → one BiLSTM layer with 512 units per direction (1,024-d states H) → label attention
``Z = tanh(W·H)``, ``A = softmax(U·Z)``, ``V = A·H`` with ``d_a = 512`` → per-code logit ``β_c · v_c + b_c``;
attention and output weights drawn from N(0, 0.03²). Optimisation: AdamW, lr 1e-3, weight decay 0, batch 8,
up to 50 epochs, early stopping on validation micro-F1 (patience 6 in the paper; the release's example uses
5), the learning rate multiplied by 0.9 when validation micro-F1 has not improved for 5 epochs
(``optim.schedule=plateau``: ReduceLROnPlateau, factor 0.9, patience 5), documents truncated to 4,000 tokens.
The cpu profile trains instead as Edin et al. 2023 do, with warm-up then linear decay (at 3e-3, for a budget of
1,260 steps); with the ci profile's early-stopping patience (2) the plateau decay never triggers.

``jointlaat`` (the paper's hierarchical joint learning): a first level predicts the 3-character parent
codes with its own label attention over the same H; its sigmoid outputs are projected to 128 dimensions
(``sigmoid(P · sigmoid(ŷ_parent))``) and concatenated to every code's attended vector at the second level.
The parent-level binary cross-entropy (targets: a parent is positive when any of its codes is) is weighted
as the release weights its levels: the release's loss is ``(P·L_parent + C·L_code) / (P + C)`` with ``P``
and ``C`` the parents and codes seen in train; here ``aux_loss = (P / C)·L_parent`` is added to the
code-level loss, which is the release's loss times the constant ``(P + C) / C`` (a scale Adam's updates do
not see). A code's parent is its ICD category as the release cuts it: ICD-9 procedures (``36.15``) the two
digits before the dot (``36``); other codes the first of the code itself and its ancestors (nearest first)
that has three characters once the dot is removed (``J10.1`` → ``J10``, ``I10`` → ``I10``); failing that
(e.g. ICD-9 E-codes) the part before the dot (``E880.1`` → ``E880``), else the first three characters
(ICD-10-PCS ``0DTJ4ZZ`` → ``0DT``). Diagnosis and procedure parents are kept apart.

Departures, deliberate, each with a switch that restores the release (the equivalence test against Edin et
al.'s LAAT turns them off): padding is masked out of the attention softmax (the release packs the LSTM
input by length but lets the padded positions, whose states are zero, take attention weight;
``mask_padding=false``); every code's output bias starts at its train prevalence
(``icdbench.models._priors``), not at PyTorch's default initialisation (``prior_bias=false``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from icdbench.models._checks import require_fraction, require_positive
from icdbench.models._fidelity import EDIN_SHARED, PRIOR_BIAS_SWITCH, masked_padding
from icdbench.models._priors import init_output_bias, init_prior_bias
from icdbench.models.base import ModelContext, ModelOutput, WordEmbeddingConfig
from icdbench.models.layers import LabelAttention, PerCodeLinear, WordEmbedding
from icdbench.models.layers.recurrent import run_within_lengths
from icdbench.models.registry import Departure, Fidelity, register_model, register_variant

INIT_STD = 0.03  # the release's initialisation of attention and output weights


@dataclass
class LaatConfig(WordEmbeddingConfig):
    hidden_size: int = 512  # per direction
    attention_dim: int = 512  # d_a
    dropout: float = 0.3  # on the word embeddings
    # the release's vocabulary: every train word (min_word_frequency -1); Edin et al.'s LAAT uses CAML's (3 docs)
    w2v_min_count: int = 1
    vocab_min_docs: int = 1
    joint: bool = False  # JointLAAT: predict the 3-character parents first and feed them to the code level
    parent_projection: int = 128
    mask_padding: bool = True  # False: padded positions take attention weight, as in the release
    prior_bias: bool = True  # False: output biases keep PyTorch's initialisation, as in the release


def parent_key(code: str, kind: str, ancestors: list[str]) -> tuple[str, str]:
    """The parent category of ``code`` as ``(kind, parent)``; see the module docstring for the rule."""
    if kind == "proc" and "." in code:  # ICD-9 procedures (ICD-10-PCS codes carry no dot)
        return kind, code.split(".", 1)[0]
    for candidate in [code, *ancestors]:
        if "-" not in candidate and len(candidate.replace(".", "")) == 3:
            return kind, candidate.replace(".", "")
    return kind, code.split(".", 1)[0] if "." in code else code[:3]


def parent_index(ctx: ModelContext) -> tuple[torch.Tensor, list[tuple[str, str]]]:
    """``(index [C] long, parents)``: the position in ``parents`` of each code's parent."""
    keys = [parent_key(c, k, a) for c, k, a in zip(ctx.codes, ctx.kinds, ctx.ancestors)]
    parents = sorted(set(keys))
    position = {key: i for i, key in enumerate(parents)}
    return torch.tensor([position[key] for key in keys], dtype=torch.long), parents


def parent_loss_weight(code_counts: np.ndarray, parent_counts: np.ndarray) -> float:
    """``P / C``: parents over codes with train positives, the release's relative weight of the parent level
    (its loss weights each level by the number of its labels seen in train)."""
    n_codes = int(np.count_nonzero(np.asarray(code_counts) > 0))
    return int(np.count_nonzero(np.asarray(parent_counts) > 0)) / max(n_codes, 1)


class ParentLevel(nn.Module):
    """JointLAAT's first level. ``forward(states [B, T, D], mask [B, T])`` → ``(parent logits [B, P],
    projected parent predictions [B, parent_projection])``."""

    def __init__(self, in_dim: int, n_parents: int, config: LaatConfig):
        super().__init__()
        self.attention = LabelAttention(in_dim, n_parents, config.attention_dim, init_std=INIT_STD)
        self.output = PerCodeLinear(in_dim, n_parents, init_std=INIT_STD)
        self.project = nn.Linear(n_parents, config.parent_projection, bias=False)

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        per_parent, _ = self.attention(states, mask)
        logits = self.output(per_parent)
        return logits, torch.sigmoid(self.project(torch.sigmoid(logits)))


class Laat(nn.Module):
    """``forward(batch)`` with ``input_ids`` / ``mask`` / ``lengths`` → :class:`ModelOutput`: logits [B, C],
    the parent-level loss as ``aux_loss`` (JointLAAT, when ``targets`` are in the batch) and the code-level
    attention [B, C, T] as ``attributions`` when ``want_attributions`` is set."""

    def __init__(self, config: LaatConfig, ctx: ModelContext):
        super().__init__()
        self.want_attributions = False
        self.embedding = WordEmbedding(ctx, config.embed_dim, config.dropout)
        self.lstm = nn.LSTM(config.embed_dim, config.hidden_size, batch_first=True, bidirectional=True)
        width = 2 * config.hidden_size
        self.attention = LabelAttention(width, ctx.n_codes, config.attention_dim, init_std=INIT_STD)
        self.output = PerCodeLinear(width, ctx.n_codes, init_std=INIT_STD)
        self.mask_padding = config.mask_padding
        if config.prior_bias:
            init_output_bias(self.output.bias, ctx)
        self.parents: ParentLevel | None = None
        if config.joint:
            index, parents = parent_index(ctx)
            self.register_buffer("parent_of", index, persistent=False)  # [C]
            self.parents = ParentLevel(width, len(parents), config)
            # a parent's documents: at most the sum of its children's, at most all documents
            parent_counts = np.bincount(index.numpy(), weights=ctx.train_counts, minlength=len(parents))
            if config.prior_bias:
                bias = self.parents.output.bias
                init_prior_bias(bias, np.minimum(parent_counts, ctx.n_train_docs), ctx.n_train_docs)
            self.parent_loss_weight = parent_loss_weight(ctx.train_counts, parent_counts)
            # The code-level output weights on the concatenated parent projection (same for every code's
            # input, so applied once as a linear map instead of materialising [B, C, D + 128]).
            self.parent_output = nn.Linear(config.parent_projection, ctx.n_codes, bias=False)
            nn.init.normal_(self.parent_output.weight, std=INIT_STD)

    def forward(self, batch: dict[str, torch.Tensor]) -> ModelOutput:
        mask = batch["mask"] if self.mask_padding else None
        states, _ = run_within_lengths(self.lstm, self.embedding(batch["input_ids"]), batch["lengths"])
        per_code, weights = self.attention(states, mask)
        logits = self.output(per_code)
        aux = None
        if self.parents is not None:
            parent_logits, parent_features = self.parents(states, mask)
            logits = logits + self.parent_output(parent_features)
            if "targets" in batch:
                parent_targets = self.parent_targets(batch["targets"], parent_logits.shape[1])
                parent_loss = F.binary_cross_entropy_with_logits(parent_logits, parent_targets)
                aux = self.parent_loss_weight * parent_loss
        attributions = weights if self.want_attributions else None
        return ModelOutput(logits=logits, aux_loss=aux, attributions=attributions)

    def parent_targets(self, targets: torch.Tensor, n_parents: int) -> torch.Tensor:
        """[B, C] code targets → [B, P]: a parent is positive when any of its codes is."""
        rows, codes = (targets > 0.5).nonzero(as_tuple=True)
        parents = targets.new_zeros(targets.shape[0], n_parents)
        parents[rows, self.parent_of[codes]] = 1.0  # duplicates write the same value: deterministic
        return parents


_LAAT_TRAINING = {
    "optim.optimizer": "adamw",
    "optim.lr": 1e-3,
    "optim.batch_size": 8,
    "optim.weight_decay": 0.0,
    "optim.epochs": 50,
    "optim.schedule": "plateau",
    "optim.plateau_factor": 0.9,
    "optim.plateau_patience": 5,
    "train.loss": "bce",
    "train.patience": 6,
    "data.max_tokens": 4000,
}


def _build(config: LaatConfig, ctx: ModelContext) -> Laat:
    require_positive("laat", config, "embed_dim", "hidden_size", "attention_dim", "parent_projection")
    require_fraction("laat", config, "dropout")
    return Laat(config, ctx)


LAAT_FIDELITY = Fidelity(
    reference="aehrc/LAAT (Vu et al.'s release: readme.md, src/args_parser.py); Edin et al.'s LAAT "
    "(tests/models/test_reference_equivalence.py)",
    departures=(
        masked_padding("the attention softmax"),
        PRIOR_BIAS_SWITCH,
        Departure("deliberate", "on MIMIC-III full/50, early stopping on validation micro-F1 with patience 6 and "
                  "at most 50 epochs (Vu et al.), where Edin et al.'s replication uses P@8, patience 10 and 200"),
        Departure("deliberate", "on MIMIC-III full/50 the vocabulary keeps every word (Vu et al.'s release), not "
                  "Edin et al.'s words of at least 3 documents"),
        *EDIN_SHARED,
    ),
)
JOINTLAAT_FIDELITY = Fidelity(
    reference=LAAT_FIDELITY.reference,
    departures=(
        *LAAT_FIDELITY.departures,
        Departure("deliberate", "the parent-level loss is added as (P / C) x L_parent: the release's "
                  "(P L_parent + C L_code) / (P + C) times the constant (P + C) / C"),
    ),
)

register_model(
    "laat",
    family="laat",
    paper="Vu et al. 2020, IJCAI",
    inputs="words",
    config=LaatConfig,
    train_defaults=_LAAT_TRAINING,
    fidelity=LAAT_FIDELITY,
)(_build)
register_variant("laat", "jointlaat", paper="Vu et al. 2020, IJCAI (hierarchical joint learning)",
                 config_defaults={"joint": True}, fidelity=JOINTLAAT_FIDELITY)
