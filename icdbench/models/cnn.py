"""``cnn``: the convolutional baseline of CAML's paper (Mullenbach et al. 2018, NAACL), after Kim (2014).

Follows the paper and the authors' MIMIC-III scripts: word2vec embeddings (CBOW, 100-d, each vector
scaled to length 1 as the release loads them) with dropout 0.2 →
one 1-D convolution (kernel 4, 500 filters, no padding, Xavier init) → tanh → max-pool over time → a linear
layer with one logit per code. Optimisation: Adam, lr 0.003, batch 16, up to 100 epochs, early stopping on
validation P@8 with patience 10, documents truncated to 2,500 tokens.

Departures, deliberate, each with a switch that restores the release (the equivalence test against Edin et
al.'s CNN turns them off): windows that reach into padding are left out of the max-pool, so a document's
logits do not depend on the other documents of its batch (the release relied on length-sorted batches;
``mask_padding=false``); every code's output bias starts at its train prevalence
(``icdbench.models._priors``), not at PyTorch's default initialisation (``prior_bias=false``). A document
shorter than the kernel is zero-padded to one window.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from icdbench.models._checks import require_fraction, require_positive
from icdbench.models._fidelity import EDIN_SHARED, PRIOR_BIAS_SWITCH, UNIT_WORD_VECTORS, masked_padding
from icdbench.models._priors import init_output_bias
from icdbench.models._recipes import MULLENBACH_BASELINE
from icdbench.models.base import ModelContext, MullenbachWordsConfig
from icdbench.models.layers import WordEmbedding, masked_max
from icdbench.models.registry import Departure, Fidelity, register_model


@dataclass
class CnnConfig(MullenbachWordsConfig):
    num_filters: int = 500
    kernel_size: int = 4
    dropout: float = 0.2  # on the word embeddings
    mask_padding: bool = True  # False: windows over padding take part in the max-pool, as in the release
    prior_bias: bool = True  # False: output biases keep PyTorch's initialisation, as in the release


class ConvMaxPool(nn.Module):
    """``forward(batch)`` with ``input_ids`` [B, T] and ``lengths`` [B] → logits [B, C]."""

    def __init__(self, config: CnnConfig, ctx: ModelContext):
        super().__init__()
        self.kernel_size = config.kernel_size
        self.embedding = WordEmbedding(ctx, config.embed_dim, config.dropout, unit_norm=config.unit_word_vectors)
        self.conv = nn.Conv1d(config.embed_dim, config.num_filters, config.kernel_size)
        nn.init.xavier_uniform_(self.conv.weight)
        self.output = nn.Linear(config.num_filters, ctx.n_codes)
        nn.init.xavier_uniform_(self.output.weight)
        if config.prior_bias:
            init_output_bias(self.output.bias, ctx)
        self.mask_padding = config.mask_padding

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        input_ids, lengths = batch["input_ids"], batch["lengths"]
        missing = self.kernel_size - input_ids.shape[1]
        if missing > 0:
            input_ids = F.pad(input_ids, (0, missing))
        x = self.embedding(input_ids).transpose(1, 2)  # [B, E, T]
        windows = torch.tanh(self.conv(x)).transpose(1, 2)  # [B, T - k + 1, F]
        if not self.mask_padding:
            return self.output(windows.amax(dim=1))
        n_valid = (lengths - self.kernel_size + 1).clamp(min=1)
        valid = torch.arange(windows.shape[1], device=windows.device) < n_valid.unsqueeze(1)
        return self.output(masked_max(windows, valid))


CNN_FIDELITY = Fidelity(
    reference="jamesmullenbach/caml-mimic (cnn_vanilla, the release's MIMIC-III commands); Edin et al.'s "
    "VanillaConv (tests/models/test_reference_equivalence.py)",
    departures=(
        masked_padding("the max-pool (windows that reach into padding)"),
        PRIOR_BIAS_SWITCH,
        UNIT_WORD_VECTORS,
        Departure("deliberate", "a document shorter than the kernel is zero-padded to one window"),
        *EDIN_SHARED,
    ),
)


@register_model(
    "cnn",
    family="cnn",
    paper="Mullenbach et al. 2018, NAACL (CNN baseline after Kim 2014)",
    inputs="words",
    config=CnnConfig,
    train_defaults=MULLENBACH_BASELINE,
    fidelity=CNN_FIDELITY,
)
def build_cnn(config: CnnConfig, ctx: ModelContext) -> ConvMaxPool:
    require_positive("cnn", config, "embed_dim", "num_filters", "kernel_size")
    require_fraction("cnn", config, "dropout")
    return ConvMaxPool(config, ctx)
