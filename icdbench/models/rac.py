"""RAC — Read, Attend, and Code (Kim & Ganapathi 2021, §4), with its Table 2 ablations as variants.

Read: word2vec-initialised embeddings → two 1-D convolutions (d filters, kernel 10, tanh) → dropout 0.1,
no positional encoding → a stack of 4 post-norm layers, each single-head scaled dot-product self-attention
then a ReLU feed-forward layer (d_ff 1024), every sub-layer with dropout 0.1, a residual and layer norm → U.

Attend and code: every code's "long title + short title" (36 tokens) → its own embedding layer initialised
with the same word2vec weights (the paper loads the reader's pre-trained weights "to initialize the
embedding layer" of the title module: a copy, not a shared layer) → one convolution (d filters, kernel 10,
tanh) → max-pool over the title's tokens → E_t [C, d]. Code-title guided attention
V = softmax(E_t·Uᵀ/√d)·U, then y = σ(V·W_3) with one W_3 ∈ R^{d×1} shared by all codes (the paper's
formula: codes differ only through their queries, so the coder is permutation-equivariant in the codes).

Choices the paper leaves open, made here: convolutions use 'same' padding so positions are kept, and padded
positions are zeroed after every convolution, so a note's logits do not depend on how much padding its
batch has; linear layers keep their biases (the paper's formulas omit them, as Vaswani et al.'s do); the
attention has no output projection (none in the paper's formula; one head has no heads to merge);
one departure: each code has its own output bias, started at its train prevalence (``_priors``), in place
of W_3's single shared bias — every code starting at probability 0.5 made the first updates push all scores
down through the shared weights, and on the cpu profile the reader never recovered (val P@8 below the
frequency baseline); the bias carries no text, so codes still differ only through their queries;
``rac-notitles`` draws its code queries Xavier-uniform, like CAML's randomly initialised label attention.

Memory: both attentions run through ``scaled_dot_product_attention`` on 4-D inputs, which on CPU takes the
fused flash kernel (masks included) and never materialises a [C, T] or [T, T] weight matrix; the explicit
weights are built only for attributions, ``code_chunk`` codes at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from icdbench.errors import UserError
from icdbench.models._checks import require_fraction, require_positive
from icdbench.models._priors import start_logits
from icdbench.models.base import ModelContext, ModelOutput, WordEmbeddingConfig
from icdbench.models.layers.attention import masked_softmax
from icdbench.models.layers.embedding import WordEmbedding
from icdbench.models.registry import Departure, Fidelity, register_model, register_variant

PAPER = (
    "Kim & Ganapathi 2021, Read, Attend, and Code: pushing the limits of medical codes prediction from "
    "clinical notes by machines (MLHC)"
)


@dataclass
class RacConfig(WordEmbeddingConfig):
    embed_dim: int = 300  # d: the word2vec size and the width of every layer
    w2v_sg: bool = True  # word2vec skip-gram, window 5, min count 10, 5 epochs (§4.1)
    w2v_window: int = 5
    w2v_min_count: int = 10
    w2v_epochs: int = 5
    conv_layers: int = 2  # convolved embedding: 2 layers of d filters
    kernel_size: int = 10  # reader and title convolutions
    dropout: float = 0.1
    attention_layers: int = 4  # self-attention module depth
    d_ff: int = 1024
    use_titles: bool = True  # False = learnable random code queries (Table 2, first RAC row)
    code_chunk: int = 1024  # codes per block: title-convolution buckets, explicit [B, C, T] attention weights


def same_conv(d_in: int, d_out: int, kernel_size: int) -> nn.Conv1d:
    """A convolution padded by ``kernel_size // 2`` on both sides: its first ``L`` outputs keep the input's
    ``L`` positions (for an even kernel the window reaches one more token left than right)."""
    return nn.Conv1d(d_in, d_out, kernel_size, padding=kernel_size // 2)


def conv_tanh(conv: nn.Conv1d, x: torch.Tensor) -> torch.Tensor:
    """``tanh(conv(x))`` channels-first: ``x`` [N, D_in, L] → ``[N, D_out, L]``."""
    return torch.tanh(conv(x)[..., : x.shape[-1]])


class ConvolvedEmbedding(nn.Module):
    """Embedding, ``n_layers`` convolutions (d filters, tanh), dropout.

    ``forward(input_ids [B, T], mask [B, T] bool)`` → ``E_x [B, T, d]`` (zero on padding before dropout).
    """

    def __init__(self, ctx: ModelContext, d: int, n_layers: int, kernel_size: int, dropout: float):
        super().__init__()
        self.embed = WordEmbedding(ctx, d)
        self.convs = nn.ModuleList(same_conv(d, d, kernel_size) for _ in range(n_layers))
        self.dropout = nn.Dropout(dropout)

    def forward(self, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        keep = mask.unsqueeze(1)  # [B, 1, T]
        x = self.embed(input_ids).transpose(1, 2) * keep  # [B, d, T]
        for conv in self.convs:
            x = conv_tanh(conv, x) * keep
        return self.dropout(x.transpose(1, 2))


def fused_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
    """``softmax(q·kᵀ/√d)·v`` over unmasked keys via ``scaled_dot_product_attention`` (no weights kept).

    ``q`` [B, 1, L_q, d], ``k``/``v`` [B, 1, T, d], ``key_mask`` [B, 1, 1, T] bool → ``[B, 1, L_q, d]``. The
    head size is zero-padded to a multiple of 8, which CUDA's memory-efficient kernel needs (d = 300 would
    otherwise fall back to the kernel that materialises the weights); zeros change neither the scores nor the
    output columns kept.
    """
    d = q.shape[-1]
    if extra := -d % 8:
        q, k, v = (F.pad(t, (0, extra)) for t in (q, k, v))
    return F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask, scale=d**-0.5)[..., :d]


class SelfAttentionLayer(nn.Module):
    """One post-norm layer: ``A = LN(x + drop(softmax(xW_q (xW_k)ᵀ/√d) xW_v))``, then
    ``LN(A + drop(relu(A W_1) W_2))``.

    ``forward(x [B, T, d], key_mask [B, 1, 1, T] bool)`` → ``[B, T, d]``. Padded keys get zero weight; padded
    query rows are computed (finite) and ignored downstream.
    """

    def __init__(self, d: int, d_ff: int, dropout: float):
        super().__init__()
        self.qkv = nn.Linear(d, 3 * d)
        self.ff = nn.Sequential(nn.Linear(d, d_ff), nn.ReLU(), nn.Linear(d_ff, d))
        self.norm_attn = nn.LayerNorm(d)
        self.norm_ff = nn.LayerNorm(d)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(x).unsqueeze(1).chunk(3, dim=-1)  # [B, 1, T, d] each: one head
        attended = fused_attention(q, k, v, key_mask).squeeze(1)
        x = self.norm_attn(x + self.dropout(attended))
        return self.norm_ff(x + self.dropout(self.ff(x)))


class CodeTitleEmbedding(nn.Module):
    """E_t: title embedding (a word2vec copy) → conv (d filters, tanh) → max-pool over the title's tokens.

    ``forward()`` → ``[C, d]``; a code whose title has no token gets a zero vector. The titles (``[C, L_t]``
    word ids, 0 = padding, from the context; buffers, not saved in checkpoints) are processed shortest first
    in buckets of ``bucket`` codes, each cut to its longest title: padding changes nothing (pad embeddings are
    zero and pads are left out of the max), and most titles are far shorter than the 36 slots.
    """

    def __init__(self, ctx: ModelContext, d: int, kernel_size: int, bucket: int):
        super().__init__()
        if ctx.title_ids is None or ctx.title_ids.shape[0] != ctx.n_codes:
            raise UserError("rac needs code-title ids for every code; build it with the word-level datamodule")
        positions = torch.arange(1, ctx.title_ids.shape[1] + 1)
        lengths = ((ctx.title_ids != 0) * positions).amax(dim=1)  # one past each title's last word
        order = torch.argsort(lengths, stable=True)
        self.register_buffer("title_ids", ctx.title_ids[order].long(), persistent=False)  # shortest first
        self.register_buffer("restore", torch.argsort(order), persistent=False)
        sorted_lengths = lengths[order].tolist()
        self.buckets = [  # (first code, end, width)
            (a, min(a + bucket, ctx.n_codes), max(1, sorted_lengths[min(a + bucket, ctx.n_codes) - 1]))
            for a in range(0, ctx.n_codes, bucket)
        ]
        self.embed = WordEmbedding(ctx, d)
        self.conv = same_conv(d, d, kernel_size)

    def forward(self) -> torch.Tensor:
        pooled = [self._pool(self.title_ids[a:b, :width]) for a, b, width in self.buckets]
        return torch.cat(pooled)[self.restore]

    def _pool(self, title_ids: torch.Tensor) -> torch.Tensor:
        """``[N, L]`` ids → ``[N, d]`` max over the non-pad positions of ``tanh(conv(embed))``."""
        keep = (title_ids != 0).unsqueeze(1)  # [N, 1, L]
        states = conv_tanh(self.conv, self.embed(title_ids).transpose(1, 2))  # [N, d, L]; pad embeddings are 0
        pooled = states.masked_fill(~keep, torch.finfo(states.dtype).min).amax(dim=-1)
        return pooled * keep.any(dim=-1)


class LearnedCodeQueries(nn.Module):
    """Randomly initialised (Xavier-uniform, as CAML) learnable queries: ``forward()`` → ``[C, d]``."""

    def __init__(self, n_codes: int, d: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_codes, d))
        nn.init.xavier_uniform_(self.weight)

    def forward(self) -> torch.Tensor:
        return self.weight


def guided_attention(queries: torch.Tensor, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``V = softmax(E_t·Uᵀ/√d)·U`` with padding masked, without building the ``[B, C, T]`` weights.

    ``queries`` [C, d], ``states`` U [B, T, d], ``mask`` [B, T] bool (a True in every row) → ``[B, C, d]``.
    """
    batch, codes, d = states.shape[0], queries.shape[0], queries.shape[1]
    q = queries.to(states.dtype).expand(batch, 1, codes, d)
    u = states.unsqueeze(1)
    return fused_attention(q, u, u, mask[:, None, None, :]).squeeze(1)


def guided_attention_weights(
    queries: torch.Tensor, states: torch.Tensor, mask: torch.Tensor, chunk: int
) -> torch.Tensor:
    """The explicit weights ``softmax(E_t·Uᵀ/√d)`` ``[B, C, T]`` (0 on padding), ``chunk`` codes at a time."""
    scale = queries.shape[-1] ** -0.5
    keys = states.transpose(1, 2) * scale  # [B, d, T]
    blocks = [
        masked_softmax(torch.matmul(block.to(states.dtype), keys), mask.unsqueeze(1)) for block in queries.split(chunk)
    ]
    return torch.cat(blocks, dim=1)


class Rac(nn.Module):
    """``forward(batch)`` with ``words`` keys → :class:`ModelOutput`: logits ``[B, C]`` and, when
    ``want_attributions`` is set, the code-title attention weights ``[B, C, T]`` (per-code token
    attributions)."""

    def __init__(self, config: RacConfig, ctx: ModelContext):
        super().__init__()
        require_positive("rac", config, "embed_dim", "conv_layers", "kernel_size", "attention_layers", "d_ff")
        require_positive("rac", config, "code_chunk")
        require_fraction("rac", config, "dropout")
        d = config.embed_dim
        self.embedding = ConvolvedEmbedding(ctx, d, config.conv_layers, config.kernel_size, config.dropout)
        self.reader = nn.ModuleList(
            SelfAttentionLayer(d, config.d_ff, config.dropout) for _ in range(config.attention_layers)
        )
        self.code_queries = (  # E_t, or random queries for the ablation
            CodeTitleEmbedding(ctx, d, config.kernel_size, config.code_chunk)
            if config.use_titles
            else LearnedCodeQueries(ctx.n_codes, d)
        )
        self.output = nn.Linear(d, 1, bias=False)  # W_3, shared by all codes
        self.code_bias = nn.Parameter(start_logits(ctx))  # see the docstring
        self.code_chunk = config.code_chunk
        self.want_attributions = False

    def read(self, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """U = SAM(E_x): ``[B, T]`` ids and mask → ``[B, T, d]``."""
        states = self.embedding(input_ids, mask)
        key_mask = mask[:, None, None, :]
        for layer in self.reader:
            states = layer(states, key_mask)
        return states

    def forward(self, batch: dict[str, torch.Tensor]) -> ModelOutput:
        mask = batch["mask"]
        has_tokens = mask.any(dim=1)  # an empty note attends to its first (padding) slot, then is zeroed
        mask = mask.clone()
        mask[:, 0] |= ~has_tokens
        states = self.read(batch["input_ids"], mask)  # U [B, T, d]
        queries = self.code_queries()  # E_t [C, d]
        per_code = guided_attention(queries, states, mask) * has_tokens[:, None, None]  # V [B, C, d]
        logits = self.output(per_code).squeeze(-1) + self.code_bias
        attributions = None
        if self.want_attributions:
            attributions = guided_attention_weights(queries, states, mask, self.code_chunk)
            attributions = attributions * has_tokens[:, None, None]
        return ModelOutput(logits=logits, attributions=attributions)


# Published training (§4.3, §5): BCE, Adam 8e-5, batch 16, early stopping on validation P@8 (patience 3,
# the best-P@8 model evaluated), sentence permutation, SWA from the first epoch, 4,096 tokens.
# Permutations, §4.3 "Sentence Permutation": "we use the 3-fold augmentation to increase the training set size
# three times". A threefold training set is each note plus two permuted copies, so data.permutations (copies
# added per note) is 2, not 3 (which would make the set four times its size).
# SWA: the paper averages "every 5 epochs"; Lightning's callback averages once per epoch. swa_lrs is left
# unset (= optim.lr), so the SWA schedule keeps Adam's rate constant, as the paper trains.
RAC_TRAIN = {
    "optim.optimizer": "adam",
    "optim.lr": 8e-5,
    "optim.batch_size": 16,
    "train.loss": "bce",
    "train.patience": 3,
    "train.swa": True,
    "train.swa_epoch_start": 1,
    "data.permutations": 2,
    "data.max_tokens": 4096,
}
# Table 2's ablation rows are cumulative: "RAC - SWA", "RAC - SWA - SentPerm",
# "RAC - SWA - SentPerm - CodeTitles"; each variant removes one more component.
NO_SWA = {**RAC_TRAIN, "train.swa": False}
NO_SWA_NO_PERM = {**NO_SWA, "data.permutations": 0}


RAC_FIDELITY = Fidelity(
    reference="none public: built from the paper (§4, §5)",
    departures=(
        Departure("deliberate", "each code has its own output bias, started at its train prevalence, instead of "
                  "W_3's one shared bias (with every code at 0.5 the reader never left the prior on the cpu profile)"),
        Departure("deliberate", "SWA averages once per epoch (Lightning's callback); the paper averages every 5 "
                  "epochs"),
        Departure("deliberate", "SWA averages only epochs that have left the label prior (on CodiEsp RAC sat at "
                  "the prior for 16 epochs and an average from epoch 8 was mostly untrained weights)"),
    ),
)


@register_model(
    "rac", family="rac", paper=PAPER, inputs="words", config=RacConfig, train_defaults=RAC_TRAIN, fidelity=RAC_FIDELITY
)
def build_rac(config: RacConfig, ctx: ModelContext) -> Rac:
    return Rac(config, ctx)


register_variant("rac", "rac-noswa", train_defaults=NO_SWA)  # RAC - SWA
register_variant("rac", "rac-noperm", train_defaults=NO_SWA_NO_PERM)  # RAC - SWA - SentPerm
# RAC - SWA - SentPerm - CodeTitles
register_variant("rac", "rac-notitles", train_defaults=NO_SWA_NO_PERM, config_defaults={"use_titles": False})
