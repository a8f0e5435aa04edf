"""Word embeddings for the word-level models, initialised from the split's word2vec matrix."""

from __future__ import annotations

import torch
from torch import nn

from icdbench.errors import UserError
from icdbench.models.base import ModelContext


class WordEmbedding(nn.Module):
    """``nn.Embedding`` over the split vocabulary (0 = padding, kept at zero) followed by dropout.

    Initialised from ``ctx.embeddings`` (gensim word2vec trained on the split's train text) when present,
    each row scaled to length 1 when ``unit_norm`` is set, else from N(0, 1) like ``nn.Embedding``.
    Fine-tuned with the model (CAML, LAAT) unless ``freeze`` is set and pretrained vectors are given.
    ``forward(input_ids [B, T] long)`` → ``[B, T, embed_dim]``.
    """

    def __init__(
        self, ctx: ModelContext, embed_dim: int, dropout: float = 0.0, freeze: bool = False, unit_norm: bool = False
    ):
        super().__init__()
        vocab_size = _vocab_size(ctx)
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        if ctx.embeddings is not None:
            if tuple(ctx.embeddings.shape) != (vocab_size, embed_dim):
                raise UserError(
                    f"word embeddings have shape {tuple(ctx.embeddings.shape)} but the model expects "
                    f"({vocab_size}, {embed_dim}); set embed_dim to the word2vec size or rebuild them"
                )
            with torch.no_grad():
                vectors = torch.as_tensor(ctx.embeddings, dtype=torch.float32)
                if unit_norm:
                    vectors = vectors / (vectors.norm(dim=1, keepdim=True) + 1e-6)
                self.embed.weight.copy_(vectors)
                self.embed.weight[0].zero_()
            # Freezing only makes sense for pretrained vectors (MultiResCNN's release keeps word2vec fixed).
            self.embed.weight.requires_grad_(not freeze)
        self.dropout = nn.Dropout(dropout)

    @property
    def dim(self) -> int:
        return self.embed.embedding_dim

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.embed(input_ids))


def _vocab_size(ctx: ModelContext) -> int:
    if ctx.vocab is not None:
        return len(ctx.vocab)
    if ctx.embeddings is not None:
        return int(ctx.embeddings.shape[0])
    raise UserError("this word-level model needs a vocabulary; build it through the word-level datamodule")
