"""Input encodings: what a model of each input kind receives (``icdbench.models.base`` lists the batch keys).

An encoding turns a part of a split into one *feature* per document, optionally augments a feature, and
collates features into the kind's batch tensors. It is fitted on the train part (vocabulary, word2vec,
tokenizer), fills the :class:`ModelContext`, and saves what inference needs into the run folder so
``icdbench predict`` can encode new text the same way.

``sentences`` is provided by the sentence-tagger family in ``icdbench/datasets/sentences.py`` (class
``SentenceInputs`` with this same interface); :mod:`icdbench.datasets.encodings` is the one dispatch point.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import polars as pl
import torch

from icdbench.datasets.augment import permute_sentences
from icdbench.datasets.storage import Split
from icdbench.datasets.text import (
    TOKENIZER_VERSION,
    clean_text,
    clean_with_offsets,
    split_sentences,
    tokenize,
    tokenize_with_offsets,
)
from icdbench.datasets.vocab import Vocab
from icdbench.datasets.word2vec import cache_key, cached_word2vec, w2v_settings
from icdbench.errors import UserError
from icdbench.models.base import ModelContext
from icdbench.models.encoders import load_tokenizer, resolve_encoder, special_tokens_template
from icdbench.paths import data_dir

TITLE_TOKENS = 36  # code-title length (long + short title), as RAC uses
VOCAB_FILE = "vocab.txt"


def vocab_path(run_dir: Path) -> Path:
    """Where a run's vocabulary lives. It lists words of the notes, so it stays under DATA_DIR (data-use
    agreements), keyed by the run's place in ``RUNS_DIR/<split>/<model>/<run_id>``."""
    split, model, run_id = Path(run_dir).resolve().parts[-3:]
    return data_dir() / split / "runs" / model / run_id / VOCAB_FILE


class InputEncoding(Protocol):
    kind: str

    def features(self, frame: pl.DataFrame, *, train: bool) -> list[Any]:
        """One feature per document of ``frame`` (train features keep what augmentation needs)."""

    def length(self, feature: Any) -> int:
        """Size of a feature after truncation, used for length bucketing."""

    def augment(self, feature: Any, rng: np.random.Generator) -> Any:
        """A randomised copy of a train feature (sentence permutation); raise if the kind has none."""

    def collate(self, features: list[Any]) -> dict[str, Any]:
        """The kind's batch entries for a list of features."""

    def fill_context(self, ctx: ModelContext) -> None: ...

    def save(self, run_dir: Path) -> None: ...

    def positions(self, text: str, sentences: list[dict] | None, batch: dict) -> np.ndarray:
        """``[P, 2]`` raw-text offsets of the ``P`` positions a model attends to in one document of ``batch``
        (its shapes give ``P``; -1 where a position holds no text), so attributions map back to the note."""

    def position_tokens(self, batch: dict) -> list[str | None]:
        """The token at each attended position of the first document of ``batch`` (None for padding)."""


def tokenize_document(text: str, spans: list[dict] | None) -> tuple[list[str], np.ndarray]:
    """Cleaned tokens of a note and the token index where each sentence starts (``[S]`` int64).

    Sentences are the split's stored offsets when it has them, else ``text.split_sentences``; each starts at
    the first token at or after its first character."""
    located = tokenize_with_offsets(text)
    tokens = [token for token, _, _ in located]
    token_chars = np.fromiter((start for _, start, _ in located), dtype=np.int64, count=len(located))
    sentence_chars = (
        [int(s["start"]) for s in spans] if spans else [start for start, _ in split_sentences(text)]
    )
    starts = np.unique(np.searchsorted(token_chars, np.asarray(sentence_chars, dtype=np.int64)))
    return tokens, starts[starts < len(tokens)]


def _sentence_spans(frame: pl.DataFrame) -> list:
    return frame["sentences"].to_list() if "sentences" in frame.columns else [None] * frame.height


def tokenize_frame(frame: pl.DataFrame) -> list[tuple[list[str], np.ndarray]]:
    return [tokenize_document(t, s) for t, s in zip(frame["text"].to_list(), _sentence_spans(frame))]


@dataclass
class WordFeature:
    ids: np.ndarray  # [T] int32 token ids (full length for train features, else already truncated)
    starts: np.ndarray  # [S] int64 sentence start positions


class WordInputs:
    """``words``: word ids from a vocabulary built on the train text, word2vec vectors, code-title ids."""

    kind = "words"

    def __init__(self, vocab: Vocab, max_tokens: int, embeddings: np.ndarray | None = None):
        self.vocab = vocab
        self.max_tokens = max_tokens
        self.embeddings = embeddings
        self._fit_tokens: list | None = None
        self.train_docs_under_2_sentences: int | None = None  # set when train features are built (the record)

    @classmethod
    def fit(cls, split: Split, train: pl.DataFrame, cfg, cache_dir: Path) -> WordInputs:
        model_cfg = cfg.model
        is_w2v = "w2v_min_count" in model_cfg  # the WordEmbeddingConfig mixin
        tokenized = tokenize_frame(train)
        documents = [tokens for tokens, _ in tokenized]
        if is_w2v:
            vocab = Vocab.build(documents, min_count=model_cfg.w2v_min_count, min_docs=model_cfg.vocab_min_docs)
        else:
            vocab = Vocab.build(documents, min_count=1)
        embeddings = None
        if is_w2v:
            settings = w2v_settings(model_cfg)
            key = cache_key(split.fingerprint, train.height, vocab, settings, TOKENIZER_VERSION)
            embeddings = cached_word2vec(documents, vocab, settings, cache_dir=cache_dir, key=key)
        inputs = cls(vocab, cfg.data.max_tokens, embeddings)
        inputs._fit_tokens = tokenized  # reused once by features(train, train=True)
        return inputs

    @classmethod
    def load(cls, run_dir: Path, cfg) -> WordInputs:
        return cls(Vocab.load(vocab_path(run_dir)), cfg.data.max_tokens)

    def save(self, run_dir: Path) -> None:
        self.vocab.save(vocab_path(run_dir))

    def features(self, frame: pl.DataFrame, *, train: bool) -> list[WordFeature]:
        if train and self._fit_tokens is not None and len(self._fit_tokens) == frame.height:
            tokenized, self._fit_tokens = self._fit_tokens, None
        else:
            tokenized = tokenize_frame(frame)
        out = []
        for tokens, starts in tokenized:
            ids = self.vocab.encode(tokens)
            if not train:
                ids, starts = ids[: self.max_tokens], starts[starts < self.max_tokens]
            out.append(WordFeature(ids, starts))
        if train:  # sentence permutation leaves these notes as they are
            self.train_docs_under_2_sentences = sum(len(f.starts) < 2 for f in out)
        return out

    def length(self, feature: WordFeature) -> int:
        return max(1, min(len(feature.ids), self.max_tokens))

    def augment(self, feature: WordFeature, rng: np.random.Generator) -> WordFeature:
        return WordFeature(permute_sentences(feature.ids, feature.starts, rng), feature.starts)

    def collate(self, features: list[WordFeature]) -> dict[str, torch.Tensor]:
        lengths = [self.length(f) for f in features]
        ids = torch.zeros(len(features), max(lengths), dtype=torch.long)
        for row, (feature, n) in enumerate(zip(features, lengths)):
            ids[row, : min(n, len(feature.ids))] = torch.from_numpy(feature.ids[:n].astype(np.int64))
        return {"input_ids": ids, "mask": ids != 0, "lengths": torch.tensor(lengths, dtype=torch.long)}

    def title_ids(self, titles: list[str], short_titles: list[str | None]) -> torch.Tensor:
        """``[C, 36]`` ids of each code's "long title + short title" (0-padded)."""
        out = torch.zeros(len(titles), TITLE_TOKENS, dtype=torch.long)
        for row, (title, short) in enumerate(zip(titles, short_titles)):
            ids = self.vocab.encode(tokenize(clean_text(f"{title or ''} {short or ''}")))[:TITLE_TOKENS]
            out[row, : len(ids)] = torch.from_numpy(ids.astype(np.int64))
        return out

    def fill_context(self, ctx: ModelContext) -> None:
        ctx.vocab = self.vocab.tokens
        ctx.embeddings = self.embeddings
        ctx.title_ids = self.title_ids(ctx.titles, ctx.short_titles)

    def positions(self, text: str, sentences: list[dict] | None, batch: dict) -> np.ndarray:
        width = batch["input_ids"].shape[1]
        located = tokenize_with_offsets(text)[: min(self.max_tokens, width)]
        out = np.full((width, 2), -1, dtype=np.int64)
        if located:
            out[: len(located)] = [(start, end) for _, start, end in located]
        return out

    def position_tokens(self, batch: dict) -> list[str | None]:
        tokens = self.vocab.tokens
        return [tokens[i] if i > 1 else None for i in batch["input_ids"][0].tolist()]


class SegmentInputs:
    """``segments``: subword ids of the encoder's tokenizer cut into segments of ``segment_length`` tokens
    (each wrapped in the tokenizer's special tokens), at most ``max_segments`` per document."""

    kind = "segments"

    def __init__(self, encoder: str, segment_length: int, max_segments: int):
        self.encoder = str(resolve_encoder(encoder))
        self.tokenizer = load_tokenizer(encoder)
        self.segment_length = segment_length
        self.max_segments = max_segments
        self.prefix, self.suffix = special_tokens_template(self.tokenizer)
        self.body = segment_length - len(self.prefix) - len(self.suffix)  # content tokens per segment
        if self.body <= 0:
            raise UserError(f"data.segment_length={segment_length} leaves no room for text; use 32 or more")

    @classmethod
    def fit(cls, split: Split, train: pl.DataFrame, cfg, cache_dir: Path) -> SegmentInputs:
        return cls.load(None, cfg)

    @classmethod
    def load(cls, run_dir: Path | None, cfg) -> SegmentInputs:
        return cls(cfg.model.encoder, cfg.data.segment_length, cfg.data.max_segments)

    def save(self, run_dir: Path) -> None:
        """Nothing to save: the tokenizer is the encoder's, named in the saved config."""

    def features(self, frame: pl.DataFrame, *, train: bool) -> list[np.ndarray]:
        limit = self.body * self.max_segments
        texts = [clean_text(t) for t in frame["text"].to_list()]
        encoded = self.tokenizer(texts, add_special_tokens=False, truncation=False, verbose=False)[
            "input_ids"
        ]
        return [np.asarray(ids[:limit], dtype=np.int32) for ids in encoded]

    def length(self, feature: np.ndarray) -> int:
        return max(1, len(feature))

    def augment(self, feature, rng):
        raise UserError("data.permutations needs word inputs; set data.permutations=0 for segment models")

    def collate(self, features: list[np.ndarray]) -> dict[str, torch.Tensor]:
        n_seg = max(1, max(-(-len(f) // self.body) for f in features))
        pad = self.tokenizer.pad_token_id or 0
        ids = torch.full((len(features), n_seg, self.segment_length), pad, dtype=torch.long)
        att = torch.zeros_like(ids)
        seg_mask = torch.zeros(len(features), n_seg, dtype=torch.bool)
        for row, feature in enumerate(features):
            pieces = [feature[i : i + self.body].tolist() for i in range(0, len(feature), self.body)] or [[]]
            for s, piece in enumerate(pieces):
                wrapped = self.prefix + piece + self.suffix
                ids[row, s, : len(wrapped)] = torch.tensor(wrapped)
                att[row, s, : len(wrapped)] = 1
                seg_mask[row, s] = True
        return {"input_ids": ids, "attention_mask": att, "segment_mask": seg_mask}

    def fill_context(self, ctx: ModelContext) -> None:
        ctx.encoder = self.encoder

    def positions(self, text: str, sentences: list[dict] | None, batch: dict) -> np.ndarray:
        """Subwords are located in the cleaned text by the tokenizer's offset mapping and moved back to raw
        text through :func:`icdbench.datasets.text.clean_with_offsets`; special tokens and padding stay -1."""
        length = self.segment_length
        out = np.full((batch["input_ids"].shape[1] * length, 2), -1, dtype=np.int64)
        if not self.tokenizer.is_fast:  # only fast tokenizers report offsets; no position is located
            return out
        cleaned, raw_to_clean = clean_with_offsets(text)
        clean_to_raw = np.full(len(cleaned) + 1, -1, dtype=np.int64)
        kept = np.flatnonzero(raw_to_clean >= 0)
        clean_to_raw[raw_to_clean[kept]] = kept
        encoded = self.tokenizer(cleaned, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        for i, (start, end) in enumerate(encoded["offset_mapping"][: self.body * self.max_segments]):
            segment, within = divmod(i, self.body)
            if segment >= batch["input_ids"].shape[1] or end <= start:
                continue
            raw_start, raw_last = clean_to_raw[start], clean_to_raw[end - 1]
            if raw_start >= 0 and raw_last >= 0:
                out[segment * length + len(self.prefix) + within] = (raw_start, raw_last + 1)
        return out

    def position_tokens(self, batch: dict) -> list[str | None]:
        ids = batch["input_ids"][0].reshape(-1).tolist()
        keep = (batch["attention_mask"][0].bool() & batch["segment_mask"][0, :, None]).reshape(-1).tolist()
        special = set(self.tokenizer.all_special_ids)
        pieces = self.tokenizer.convert_ids_to_tokens(ids)
        return [p if k and i not in special else None for p, i, k in zip(pieces, ids, keep)]


class TextInputs:
    """``text``: cleaned note texts for scikit-learn pipelines (they vectorise themselves)."""

    kind = "text"

    @classmethod
    def fit(cls, split: Split, train: pl.DataFrame, cfg, cache_dir: Path) -> TextInputs:
        return cls()

    @classmethod
    def load(cls, run_dir: Path | None, cfg) -> TextInputs:
        return cls()

    def save(self, run_dir: Path) -> None:
        """Nothing to save: the pipeline holds its own vectoriser."""

    def features(self, frame: pl.DataFrame, *, train: bool) -> list[str]:
        return [clean_text(t) for t in frame["text"].to_list()]

    def length(self, feature: str) -> int:
        return max(1, len(feature))

    def augment(self, feature, rng):
        raise UserError("data.permutations needs word inputs; set data.permutations=0 for text models")

    def collate(self, features: list[str]) -> dict[str, Any]:
        return {"texts": list(features)}

    def fill_context(self, ctx: ModelContext) -> None:
        """Nothing beyond the codes."""

    def positions(self, text: str, sentences: list[dict] | None, batch: dict) -> np.ndarray:
        raise UserError("text-input models attend to no positions; evidence needs an attention model")

    def position_tokens(self, batch: dict) -> list[str | None]:
        raise UserError("attention explanations cover word and subword inputs, not text; use --method lime")
