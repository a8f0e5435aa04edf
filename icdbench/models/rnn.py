"""``bigru``: the bidirectional GRU baseline of CAML's paper (Mullenbach et al. 2018, NAACL).

Follows the paper and the authors' MIMIC-III scripts: word2vec embeddings (CBOW, 100-d, each vector
scaled to length 1 as the release loads them) → one bidirectional
GRU layer of size 512 (256 per direction, as the release splits ``rnn_dim`` across directions) → the final
forward and backward hidden states concatenated → a linear layer with one logit per code. The release
applies no dropout to this model. Optimisation: Adam, lr 0.003, batch 16, up to 100 epochs, early stopping
on validation P@8 with patience 10, documents truncated to 2,500 tokens.

Departures, deliberate, each with a switch that restores the release (the equivalence test against Edin et
al.'s GRU turns them off): the GRU runs within each document's true length (as packing would), so the final
states are each document's own (the release ran the GRU over the padding of length-sorted batches;
``mask_padding=false``); every code's output bias starts at its train prevalence (``icdbench.models._priors``),
not at PyTorch's default initialisation (``prior_bias=false``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from icdbench.errors import UserError
from icdbench.models._checks import require_fraction, require_positive
from icdbench.models._fidelity import EDIN_SHARED, PRIOR_BIAS_SWITCH, UNIT_WORD_VECTORS, masked_padding
from icdbench.models._priors import init_output_bias
from icdbench.models._recipes import MULLENBACH_BASELINE
from icdbench.models.base import ModelContext, MullenbachWordsConfig
from icdbench.models.layers import WordEmbedding
from icdbench.models.layers.recurrent import run_within_lengths
from icdbench.models.registry import Departure, Fidelity, register_model


@dataclass
class BiGruConfig(MullenbachWordsConfig):
    hidden_size: int = 512  # both directions together
    dropout: float = 0.0  # on the word embeddings
    mask_padding: bool = True  # False: the GRU runs over the padding too, as in the release
    prior_bias: bool = True  # False: output biases keep PyTorch's initialisation, as in the release


class BiGru(nn.Module):
    """``forward(batch)`` with ``input_ids`` [B, T] and ``lengths`` [B] → logits [B, C]."""

    def __init__(self, config: BiGruConfig, ctx: ModelContext):
        super().__init__()
        self.embedding = WordEmbedding(ctx, config.embed_dim, config.dropout, unit_norm=config.unit_word_vectors)
        self.gru = nn.GRU(config.embed_dim, config.hidden_size // 2, batch_first=True, bidirectional=True)
        self.output = nn.Linear(config.hidden_size, ctx.n_codes)
        if config.prior_bias:
            init_output_bias(self.output.bias, ctx)
        self.mask_padding = config.mask_padding

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        embedded = self.embedding(batch["input_ids"])
        if self.mask_padding:
            _, last = run_within_lengths(self.gru, embedded, batch["lengths"])
        else:
            _, last = self.gru(embedded)
        return self.output(torch.cat([last[-2], last[-1]], dim=-1))  # forward ⊕ backward final states


BIGRU_FIDELITY = Fidelity(
    reference="jamesmullenbach/caml-mimic (rnn, GRU_mimic3_full/train_new_model.sh); Edin et al.'s VanillaRNN "
    "(tests/models/test_reference_equivalence.py)",
    departures=(
        masked_padding("the GRU (run within each document's length, so the final states are each document's own)"),
        PRIOR_BIAS_SWITCH,
        UNIT_WORD_VECTORS,
        Departure("deliberate", "no embedding dropout on MIMIC-III full/50, as Mullenbach et al.'s release; "
                  "Edin et al.'s replication uses 0.2"),
        *EDIN_SHARED,
    ),
)


@register_model(
    "bigru",
    family="rnn",
    paper="Mullenbach et al. 2018, NAACL (Bi-GRU baseline)",
    inputs="words",
    config=BiGruConfig,
    train_defaults=MULLENBACH_BASELINE,
    fidelity=BIGRU_FIDELITY,
)
def build_bigru(config: BiGruConfig, ctx: ModelContext) -> BiGru:
    require_positive("bigru", config, "embed_dim", "hidden_size")
    require_fraction("bigru", config, "dropout")
    if config.hidden_size % 2:
        size = config.hidden_size
        raise UserError(f"bigru: hidden_size (split over two directions) must be even, not {size}")
    return BiGru(config, ctx)
