"""``bigru``: the bidirectional GRU baseline of CAML's paper (Mullenbach et al. 2018, NAACL).

Follows the paper and the authors' MIMIC-III scripts: word2vec embeddings (CBOW, 100-d) → one bidirectional
GRU layer of size 512 (256 per direction, as the release splits ``rnn_dim`` across directions) → the final
forward and backward hidden states concatenated → a linear layer with one logit per code. The release
applies no dropout to this model. Optimisation: Adam, lr 0.003, batch 16, up to 100 epochs, early stopping
on validation P@8 with patience 10, documents truncated to 2,500 tokens.

Departure: sequences are packed by their true lengths, so the final states are each document's own (the
release ran the GRU over the padding of length-sorted batches).
Every code's output bias starts at its train prevalence (``icdbench.models._priors``), not at zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from icdbench.errors import UserError
from icdbench.models._checks import require_fraction, require_positive
from icdbench.models._priors import init_output_bias
from icdbench.models.base import ModelContext, WordEmbeddingConfig
from icdbench.models.layers import WordEmbedding
from icdbench.models.layers.recurrent import run_packed
from icdbench.models.registry import register_model


@dataclass
class BiGruConfig(WordEmbeddingConfig):
    hidden_size: int = 512  # both directions together
    dropout: float = 0.0  # on the word embeddings


class BiGru(nn.Module):
    """``forward(batch)`` with ``input_ids`` [B, T] and ``lengths`` [B] → logits [B, C]."""

    def __init__(self, config: BiGruConfig, ctx: ModelContext):
        super().__init__()
        self.embedding = WordEmbedding(ctx, config.embed_dim, config.dropout)
        self.gru = nn.GRU(config.embed_dim, config.hidden_size // 2, batch_first=True, bidirectional=True)
        self.output = nn.Linear(config.hidden_size, ctx.n_codes)
        init_output_bias(self.output.bias, ctx)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        _, last = run_packed(self.gru, self.embedding(batch["input_ids"]), batch["lengths"])
        return self.output(torch.cat([last[-2], last[-1]], dim=-1))  # forward ⊕ backward final states


@register_model(
    "bigru",
    family="rnn",
    paper="Mullenbach et al. 2018, NAACL (Bi-GRU baseline)",
    inputs="words",
    config=BiGruConfig,
    train_defaults={
        "optim.optimizer": "adam",
        "optim.lr": 3e-3,
        "optim.batch_size": 16,
        "optim.weight_decay": 0.0,
        "optim.epochs": 100,
        "optim.schedule": "constant",
        "train.loss": "bce",
        "train.patience": 10,
        "data.max_tokens": 2500,
    },
)
def build_bigru(config: BiGruConfig, ctx: ModelContext) -> BiGru:
    require_positive("bigru", config, "embed_dim", "hidden_size")
    require_fraction("bigru", config, "dropout")
    if config.hidden_size % 2:
        size = config.hidden_size
        raise UserError(f"bigru: hidden_size (split over two directions) must be even, not {size}")
    return BiGru(config, ctx)
