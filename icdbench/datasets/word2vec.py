"""gensim word2vec trained on a split's train text, cached under ``DATA_DIR/<split>/cache/``.

The cache key covers everything that changes the vectors: the split's content fingerprint, the number of train
documents used, the tokenisation, the vocabulary and the word2vec settings. Training uses one worker and a
fixed seed, so the same inputs give the same matrix; a file lock keeps concurrent runs (DDP ranks, parallel
seeds) from training it twice.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
from filelock import FileLock

from icdbench.datasets.vocab import Vocab
from icdbench.io import atomic_write
from icdbench.models.base import WordEmbeddingConfig

W2V_SEED = 0  # vectors do not depend on the run seed, so every seed of a benchmark shares one cache entry


def w2v_settings(config: WordEmbeddingConfig) -> dict:
    """The word2vec fields of a model config (the ``WordEmbeddingConfig`` mixin)."""
    return {f: getattr(config, f) for f in asdict(WordEmbeddingConfig())}


def cache_key(fingerprint: str, n_docs: int, vocab: Vocab, settings: dict, tokenizer: str) -> str:
    # heavy: gensim loads only when word2vec embeddings are made
    import gensim

    vocab_hash = hashlib.sha256("\n".join(vocab.tokens).encode()).hexdigest()
    payload = json.dumps(
        [fingerprint, n_docs, vocab_hash, settings, tokenizer, gensim.__version__, W2V_SEED], sort_keys=True
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def train_word2vec(documents: list[list[str]], vocab: Vocab, settings: dict) -> np.ndarray:
    """``[V, embed_dim]`` float32 matrix aligned with ``vocab``: row 0 (padding) zero, unknown words and
    vocabulary tokens word2vec dropped get small seeded random vectors."""
    # heavy: gensim loads only when word2vec embeddings are made
    from gensim.models import Word2Vec

    model = Word2Vec(
        sentences=documents,
        vector_size=settings["embed_dim"],
        sg=int(settings["w2v_sg"]),
        window=settings["w2v_window"],
        min_count=settings["w2v_min_count"],
        epochs=settings["w2v_epochs"],
        workers=1,
        seed=W2V_SEED,
    )
    rng = np.random.default_rng(W2V_SEED)
    dim = settings["embed_dim"]
    matrix = rng.uniform(-0.5 / dim, 0.5 / dim, size=(len(vocab), dim)).astype(np.float32)
    matrix[0] = 0.0
    keyed = model.wv
    for i, token in enumerate(vocab.tokens[2:], start=2):
        if token in keyed.key_to_index:
            matrix[i] = keyed[token]
    return matrix


def cached_word2vec(
    documents: list[list[str]], vocab: Vocab, settings: dict, *, cache_dir: Path, key: str
) -> np.ndarray:
    """Load the matrix for ``key`` from ``cache_dir`` or train and store it atomically."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"w2v-{key}.npy"
    with FileLock(str(path) + ".lock"):
        if path.exists():
            return np.load(path, allow_pickle=False)
        matrix = train_word2vec(documents, vocab, settings)
        atomic_write(path, lambda handle: np.save(handle, matrix, allow_pickle=False), binary=True)
    return matrix
