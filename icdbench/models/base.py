"""What every model receives and returns.

Batches are plain ``dict[str, Tensor]`` built by the datamodule for the model's input kind:

- always: ``targets`` float ``[B, C]``; ``doc_index`` long ``[B]`` (row in the part, used to drop DDP padding);
  ``age`` float ``[B]`` (z-scored, 0 when unknown) and ``sex`` long ``[B]`` (0 unknown, 1 F, 2 M).
- ``words``: ``input_ids`` long ``[B, T]`` (0 = padding, 1 = unknown), ``mask`` bool ``[B, T]``,
  ``lengths`` long ``[B]``.
- ``segments``: ``input_ids`` / ``attention_mask`` long ``[B, S, L]`` (subword segments of one document),
  ``segment_mask`` bool ``[B, S]``.
- ``sentences``: ``sentence_ids`` long ``[B, N, L]`` (word ids per sentence), ``sentence_mask`` bool ``[B, N]``,
  ``word_mask`` bool ``[B, N, L]``, ``r4v_ids`` long ``[B, R]`` (reason for visit), ``r4v_mask`` bool ``[B, R]``,
  and for supervision ``focus`` long ``[B, N]`` (1 = sentence carries a code) plus ``sentence_codes`` long
  ``[B, N]`` (code index of a single-code focus sentence, -1 otherwise) and ``evidence_words`` float ``[B, N, L]``.
- ``text``: scikit-learn models get the cleaned texts (a list of str) and vectorise them themselves.

Models return logits ``[B, C]`` or a :class:`ModelOutput` with auxiliary losses and attributions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch


@dataclass
class WordEmbeddingConfig:
    """Mixin for word-level model configs: the datamodule trains gensim word2vec with these settings on the
    split's train text (cached by split fingerprint) and passes the matrix as ``ModelContext.embeddings``.

    The vocabulary holds the train words seen at least ``w2v_min_count`` times (word2vec has no vector for
    the others) in at least ``vocab_min_docs`` train documents; the rest map to ``<unk>``."""

    embed_dim: int = 100
    w2v_sg: bool = False  # True = skip-gram, False = CBOW
    w2v_window: int = 5
    w2v_min_count: int = 3
    w2v_epochs: int = 5
    vocab_min_docs: int = 1


@dataclass
class CamlVocabularyConfig(WordEmbeddingConfig):
    """CAML's vocabulary (its ``dataproc/build_vocab.py``, ``vocab_min = 3``; Edin et al.'s
    ``min_document_count: 3``): the words of at least 3 train documents (document frequency, not
    occurrences), with word2vec trained on every word (both use word2vec ``min_count`` 0). CAML's CNN and
    Bi-GRU baselines and MultiResCNN (which reuses CAML's preprocessing) share it."""

    w2v_min_count: int = 1
    vocab_min_docs: int = 3


@dataclass
class MullenbachWordsConfig(CamlVocabularyConfig):
    """The word inputs of Mullenbach et al. 2018's release, for its CNN, Bi-GRU, CAML and DR-CAML: CAML's
    vocabulary, and word2vec vectors scaled to length 1 as every model there loads them (caml-mimic
    ``dataproc/extract_wvs.load_embeddings``). gensim's raw vectors are ~10 long on a note's frequent words, and a
    CNN's tanh, max-pooled over hundreds of windows, then sits at 1 for every note from the start (its features
    never differed between notes on synth-icd10-50). Edin et al.'s reimplementation keeps gensim's scale
    (``unit_word_vectors=false``)."""

    unit_word_vectors: bool = True


@dataclass
class ModelOutput:
    logits: torch.Tensor  # [B, C]
    aux_loss: torch.Tensor | None = None  # added to the main loss by CodingModule
    # Per-code attribution over input positions, [B, C, T] (tokens) or [B, C, N] (sentences); used by
    # evidence evaluation and `icdbench explain`. Models fill it only when ``want_attributions`` is set.
    attributions: torch.Tensor | None = None
    extras: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass
class ModelContext:
    """Everything a builder may need from the split and the datamodule."""

    codes: list[str]
    kinds: list[str]  # "dx" / "proc", parallel to codes
    titles: list[str]
    short_titles: list[str | None]
    ancestors: list[list[str]]  # nearest first
    train_counts: np.ndarray  # [C] positives per code in train
    n_train_docs: int
    vocab: list[str] | None = None  # word-level models: id -> token (0 = <pad>, 1 = <unk>)
    embeddings: np.ndarray | None = None  # word2vec matrix aligned with vocab, or None
    title_ids: torch.Tensor | None = None  # [C, Lt] word ids of "long title + short title" (0-padded)
    encoder: str | None = None  # transformer models: resolved local path of the encoder
    n_demographics: int = 0  # number of demographic features present in the split (age, sex)
    class_weighted_loss: bool = False  # the run's loss weights positives per code (wbce): outputs start at 0

    @property
    def n_codes(self) -> int:
        return len(self.codes)


def as_output(result: torch.Tensor | ModelOutput) -> ModelOutput:
    return result if isinstance(result, ModelOutput) else ModelOutput(logits=result)
