"""Layers shared by several model families (attention, embeddings, pooling), written once."""

from icdbench.models.layers.attention import (
    CamlAttention,
    LabelAttention,
    PerCodeLinear,
    attend,
    masked_softmax,
)
from icdbench.models.layers.conv import SameConv1d
from icdbench.models.layers.embedding import WordEmbedding
from icdbench.models.layers.pooling import masked_max

__all__ = [
    "CamlAttention",
    "LabelAttention",
    "PerCodeLinear",
    "SameConv1d",
    "WordEmbedding",
    "attend",
    "masked_max",
    "masked_softmax",
]
