"""Factories shared by the model tests: a small fake :class:`ModelContext` and a batch of any input kind,
shaped exactly as ``icdbench/models/base.py`` documents.

Use them as fixtures: ``def test_x(make_context, make_batch): ctx = make_context(n_codes=6)``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from icdbench.models.base import ModelContext

WORDS = ["fever", "cough", "pneumonia", "right", "lower", "lobe", "chronic", "kidney", "disease", "stage"]


def build_context(
    n_codes: int = 6,
    vocab_size: int = 50,
    embed_dim: int = 16,
    title_len: int = 8,
    encoder: str | None = None,
    with_embeddings: bool = True,
    seed: int = 0,
) -> ModelContext:
    """A context with ICD-10-CM-like diagnosis codes (several per 3-character category, one bare category)
    and, when ``n_codes >= 4``, one ICD-10-PCS-like procedure; fake titles, ancestors (nearest first),
    train counts, a vocabulary (0 = <pad>, 1 = <unk>), random word2vec-like embeddings and title word ids
    (0-padded, every title at least one word, the last code's title the longest)."""
    rng = np.random.default_rng(seed)
    codes, kinds, ancestors = [], [], []
    for i in range(n_codes):
        if n_codes >= 4 and i == n_codes - 1:
            codes.append(f"0DT{i % 10}4ZZ")
            kinds.append("proc")
            ancestors.append(["0DT", "0D", "0"])
        elif i == 0:
            codes.append("I10")  # a category that is itself a billable code
            kinds.append("dx")
            ancestors.append(["I10-I1A", "I00-I99"])
        else:
            category = f"J{10 + i // 3:02d}"
            codes.append(f"{category}.{i % 3}")
            kinds.append("dx")
            ancestors.append([category, "J09-J18", "J00-J99"])
    vocab = ["<pad>", "<unk>"] + [WORDS[i % len(WORDS)] + str(i) for i in range(vocab_size - 2)]
    lengths = rng.integers(1, title_len + 1, size=n_codes)
    lengths[-1] = title_len
    title_ids = torch.zeros(n_codes, title_len, dtype=torch.long)
    for row, length in enumerate(lengths):
        title_ids[row, :length] = torch.as_tensor(rng.integers(2, vocab_size, size=length))
    return ModelContext(
        codes=codes,
        kinds=kinds,
        titles=[f"title of {code}" for code in codes],
        short_titles=[None if i % 2 else f"short {code}" for i, code in enumerate(codes)],
        ancestors=ancestors,
        train_counts=rng.integers(1, 20, size=n_codes),
        n_train_docs=40,
        vocab=vocab,
        embeddings=rng.normal(size=(vocab_size, embed_dim)).astype(np.float32) if with_embeddings else None,
        title_ids=title_ids,
        encoder=encoder,
        n_demographics=2,
    )


def _lengths(gen: torch.Generator, batch_size: int, width: int, minimum: int = 1) -> torch.Tensor:
    """Random lengths in [minimum, width]; the first row always uses the full width."""
    lengths = torch.randint(minimum, width + 1, (batch_size,), generator=gen)
    lengths[0] = width
    return lengths


def _ids(
    gen: torch.Generator, shape: tuple[int, ...], low: int, high: int, mask: torch.Tensor
) -> torch.Tensor:
    return torch.randint(low, high, shape, generator=gen).masked_fill(~mask, 0)


def build_batch(
    kind: str,
    ctx: ModelContext,
    batch_size: int = 3,
    seq_len: int = 24,
    n_segments: int = 3,
    segment_len: int = 16,
    n_sentences: int = 5,
    sentence_len: int = 7,
    r4v_len: int = 4,
    subword_range: tuple[int, int] = (5, 1000),
    seed: int = 0,
) -> dict:
    """A batch for input ``kind`` (``words``, ``segments``, ``sentences`` or ``text``) with the common keys
    (``targets`` with at least one positive per document, ``doc_index``, ``age``, ``sex``). Padded lengths
    vary across rows; the first row is always full length. ``text`` batches carry ``texts`` (list of str)."""
    gen = torch.Generator().manual_seed(seed)
    n_codes, vocab_size = ctx.n_codes, len(ctx.vocab) if ctx.vocab else 50
    targets = (torch.rand(batch_size, n_codes, generator=gen) < 0.3).float()
    targets[torch.arange(batch_size), torch.randint(0, n_codes, (batch_size,), generator=gen)] = 1.0
    batch: dict = {
        "targets": targets,
        "doc_index": torch.arange(batch_size),
        "age": torch.randn(batch_size, generator=gen),
        "sex": torch.randint(0, 3, (batch_size,), generator=gen),
    }
    if kind == "words":
        lengths = _lengths(gen, batch_size, seq_len)
        mask = torch.arange(seq_len) < lengths[:, None]
        ids = _ids(gen, (batch_size, seq_len), 1, vocab_size, mask)  # includes some <unk> = 1
        batch.update(input_ids=ids, mask=mask, lengths=lengths)
    elif kind == "segments":
        n_real = _lengths(gen, batch_size, n_segments)
        segment_mask = torch.arange(n_segments) < n_real[:, None]
        token_lengths = torch.randint(2, segment_len + 1, (batch_size, n_segments), generator=gen)
        token_lengths[:, 0] = segment_len
        attention_mask = (torch.arange(segment_len) < token_lengths[..., None]) & segment_mask[..., None]
        ids = _ids(gen, (batch_size, n_segments, segment_len), *subword_range, attention_mask)
        batch.update(input_ids=ids, attention_mask=attention_mask.long(), segment_mask=segment_mask)
    elif kind == "sentences":
        n_real = _lengths(gen, batch_size, n_sentences)
        sentence_mask = torch.arange(n_sentences) < n_real[:, None]
        word_lengths = torch.randint(1, sentence_len + 1, (batch_size, n_sentences), generator=gen)
        word_lengths[:, 0] = sentence_len
        word_mask = (torch.arange(sentence_len) < word_lengths[..., None]) & sentence_mask[..., None]
        r4v_mask = torch.arange(r4v_len) < _lengths(gen, batch_size, r4v_len)[:, None]
        focus = (torch.rand(batch_size, n_sentences, generator=gen) < 0.5) & sentence_mask
        focus[:, 0] = True
        sentence_codes = torch.randint(0, n_codes, (batch_size, n_sentences), generator=gen)
        sentence_codes = sentence_codes.masked_fill(~focus, -1)
        evidence = (torch.rand(batch_size, n_sentences, sentence_len, generator=gen) < 0.3) & word_mask
        evidence &= focus[..., None]
        batch.update(
            sentence_ids=_ids(gen, (batch_size, n_sentences, sentence_len), 1, vocab_size, word_mask),
            sentence_mask=sentence_mask,
            word_mask=word_mask,
            r4v_ids=_ids(gen, (batch_size, r4v_len), 1, vocab_size, r4v_mask),
            r4v_mask=r4v_mask,
            focus=focus.long(),
            sentence_codes=sentence_codes,
            evidence_words=evidence.float(),
        )
    elif kind == "text":
        words = ctx.vocab[2:] if ctx.vocab else WORDS
        batch["texts"] = [
            " ".join(words[int(j)] for j in torch.randint(0, len(words), (seq_len,), generator=gen))
            for _ in range(batch_size)
        ]
    else:
        raise ValueError(f"unknown input kind {kind!r}")
    return batch


@pytest.fixture
def make_context():
    return build_context


@pytest.fixture
def make_batch():
    return build_batch
