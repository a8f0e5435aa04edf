"""``sentences`` inputs (the sentence tagger): a note as a sequence of sentences of word ids, plus the reason
for visit and the evidence supervision of both levels (batch keys in ``icdbench.models.base``).

Sentences are the split's stored offsets where it has them, else :func:`icdbench.datasets.text.split_sentences`;
words are the cleaned tokens (:func:`icdbench.datasets.text.tokenize_with_offsets`) whose first character lies
in the sentence. Sentences without a word are skipped; at most ``data.max_sentences`` sentences of at most
``data.sentence_length`` words are kept. :func:`layout_document` is that rule, shared with evidence evaluation so
that every position maps back to raw-text offsets.

Supervision per document: its gold ``evidence`` spans when it has any, otherwise silver spans
(:mod:`icdbench.datasets.silver`) for its gold codes. A sentence is *focus* when a word of it overlaps an
evidence span of one of the document's codes in the label set; ``sentence_codes`` holds that code when it is
the only one, -1 otherwise (several-code sentences stay focus but are not level-2 training examples).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import polars as pl
import torch
from torch.utils.data import Dataset

from icdbench.datasets.batching import ItemKey
from icdbench.datasets.inputs import vocab_path
from icdbench.datasets.silver import CodePhrases, silver_evidence
from icdbench.datasets.storage import Split
from icdbench.datasets.text import TOKENIZER_VERSION, split_sentences, tokenize, tokenize_with_offsets
from icdbench.datasets.vocab import Vocab
from icdbench.datasets.word2vec import cache_key, cached_word2vec, w2v_settings
from icdbench.errors import UserError
from icdbench.models.base import ModelContext


@dataclass
class DocumentLayout:
    """Kept words of a note grouped into kept sentences."""

    tokens: list[str]  # [W] cleaned words, sentence after sentence
    token_spans: np.ndarray  # [W, 2] int64 raw [start, end) of each word
    bounds: np.ndarray  # [N + 1] int64: sentence n holds words bounds[n]:bounds[n+1]
    sentence_spans: np.ndarray  # [N, 2] int64 raw [start, end) of each kept sentence

    @property
    def n_sentences(self) -> int:
        return len(self.bounds) - 1


def layout_document(
    text: str, sentences: list[dict] | None, max_sentences: int, sentence_length: int
) -> DocumentLayout:
    """The sentences and words a model of this input kind sees (module docstring)."""
    located = tokenize_with_offsets(text)
    starts = np.fromiter((s for _, s, _ in located), dtype=np.int64, count=len(located))
    spans = sorted((int(s["start"]), int(s["end"])) for s in sentences) if sentences else split_sentences(text)
    spans = np.asarray(spans, dtype=np.int64).reshape(-1, 2)
    first, after = np.searchsorted(starts, spans[:, 0]), np.searchsorted(starts, spans[:, 1])
    kept = np.flatnonzero(after > first)[:max_sentences]  # sentences holding a word
    first, lengths = first[kept], np.minimum(after[kept] - first[kept], sentence_length)
    bounds = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    index = np.arange(bounds[-1]) - np.repeat(bounds[:-1], lengths) + np.repeat(first, lengths)
    return DocumentLayout(
        tokens=[located[i][0] for i in index.tolist()],
        token_spans=np.asarray([located[i][1:] for i in index.tolist()], dtype=np.int64).reshape(-1, 2),
        bounds=bounds,
        sentence_spans=spans[kept],
    )


@dataclass
class SentenceFeature:
    ids: np.ndarray  # [W] int32 word ids, sentence after sentence
    bounds: np.ndarray  # [N + 1] int64 sentence boundaries in ids
    r4v: np.ndarray  # [R] int32 reason-for-visit word ids
    focus: np.ndarray  # [N] int64 1 = focus sentence
    codes: np.ndarray  # [N] int64 code index of a single-code focus sentence, else -1
    evidence: np.ndarray  # [W] float32 1 = evidence word

    @property
    def n_sentences(self) -> int:
        return len(self.bounds) - 1

    def sentence(self, n: int) -> SentenceFeature:
        """A one-sentence feature holding sentence ``n`` (level-2 training examples)."""
        lo, hi = int(self.bounds[n]), int(self.bounds[n + 1])
        return replace(
            self,
            ids=self.ids[lo:hi],
            bounds=np.asarray([0, hi - lo]),
            focus=self.focus[n : n + 1],
            codes=self.codes[n : n + 1],
            evidence=self.evidence[lo:hi],
        )


def sentence_targets(
    layout: DocumentLayout, evidence: list[dict], code_index: dict[str, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(focus [N], sentence codes [N], evidence words [W])`` from evidence spans (codes outside
    ``code_index`` ignored)."""
    n, words = layout.n_sentences, len(layout.tokens)
    flags = np.zeros(words, dtype=np.float32)
    sentence_of = np.repeat(np.arange(n), np.diff(layout.bounds))
    codes_of: list[set[int]] = [set() for _ in range(n)]
    starts, ends = layout.token_spans[:, 0], layout.token_spans[:, 1]
    for span in evidence:
        code = code_index.get(span["code"])
        if code is None:
            continue
        # words overlapping [start, end): end > start and start < end (words do not overlap each other)
        lo = np.searchsorted(ends, int(span["start"]), side="right")
        hi = np.searchsorted(starts, int(span["end"]), side="left")
        flags[lo:hi] = 1.0
        for sentence in set(sentence_of[lo:hi].tolist()):
            codes_of[sentence].add(code)
    focus = np.asarray([len(c) > 0 for c in codes_of], dtype=np.int64)
    single = np.asarray([next(iter(c)) if len(c) == 1 else -1 for c in codes_of], dtype=np.int64)
    return focus, single, flags


class SentenceInputs:
    """``sentences``: vocabulary and word2vec as for ``words`` (shared cache), features per document."""

    kind = "sentences"

    def __init__(
        self,
        vocab: Vocab,
        max_sentences: int,
        sentence_length: int,
        *,
        embeddings: np.ndarray | None = None,
        codes: pl.DataFrame | None = None,
    ):
        self.vocab = vocab
        self.max_sentences, self.sentence_length = max_sentences, sentence_length
        self.embeddings = embeddings
        self.codes = codes  # the label set (codes.parquet); None at inference: no supervision is derived
        self.code_index = {c: i for i, c in enumerate(codes["code"].to_list())} if codes is not None else {}
        self._phrases: CodePhrases | None = None
        self.supervision: Counter[str] = Counter()  # train documents per source: gold / silver / none

    @classmethod
    def fit(cls, split: Split, train: pl.DataFrame, cfg, cache_dir: Path) -> SentenceInputs:
        _check_limits(cfg)
        documents = [tokenize(text) for text in train["text"].to_list()]
        vocab = Vocab.build(documents, min_count=cfg.model.w2v_min_count)
        settings = w2v_settings(cfg.model)
        key = cache_key(split.fingerprint, train.height, vocab, settings, TOKENIZER_VERSION)
        embeddings = cached_word2vec(documents, vocab, settings, cache_dir=cache_dir, key=key)
        return cls(vocab, cfg.data.max_sentences, cfg.data.sentence_length, embeddings=embeddings, codes=split.codes)

    @classmethod
    def load(cls, run_dir: Path, cfg) -> SentenceInputs:
        _check_limits(cfg)
        return cls(Vocab.load(vocab_path(run_dir)), cfg.data.max_sentences, cfg.data.sentence_length)

    def save(self, run_dir: Path) -> None:
        self.vocab.save(vocab_path(run_dir))

    @property
    def phrases(self) -> CodePhrases:
        """Titles and synonyms of the label set, built when a document first needs silver spans."""
        if self._phrases is None:
            self._phrases = CodePhrases.from_codes(self.codes)
        return self._phrases

    def layout(self, text: str, sentences: list[dict] | None) -> DocumentLayout:
        return layout_document(text, sentences, self.max_sentences, self.sentence_length)

    def positions(self, text: str, sentences: list[dict] | None, batch: dict) -> np.ndarray:
        """``[n_sentences · width, 2]``: the (sentence, word) positions of the batch's sentence grid."""
        n_sentences, width = batch["sentence_ids"].shape[1:]
        layout = self.layout(text, sentences)
        out = np.full((n_sentences, width, 2), -1, dtype=np.int64)
        for n in range(min(layout.n_sentences, n_sentences)):
            lo, hi = layout.bounds[n], layout.bounds[n + 1]
            out[n, : hi - lo] = layout.token_spans[lo:hi]
        return out.reshape(-1, 2)

    def position_tokens(self, batch: dict) -> list[str | None]:
        raise UserError("attention explanations cover word and subword inputs, not sentences; use --method lime")

    def document_evidence(
        self, text: str, codes: list[str], gold: list[dict] | None, sentences: list[dict] | None
    ) -> tuple[list[dict], str]:
        """The document's supervision spans and their source: ``gold``, ``silver`` or ``none``."""
        kept = [c for c in codes if c in self.code_index]
        gold = [e for e in gold or [] if e["code"] in kept]
        if gold:
            return gold, "gold"
        if self.codes is None or not kept:
            return [], "none"
        spans = [(int(s["start"]), int(s["end"])) for s in sentences] if sentences else None
        silver = silver_evidence(text, kept, self.phrases, spans)
        return silver, "silver" if silver else "none"

    def features(self, frame: pl.DataFrame, *, train: bool) -> list[SentenceFeature]:
        def column(name: str, default) -> list:
            return frame[name].to_list() if name in frame.columns else [default] * frame.height

        rows = zip(
            frame["text"].to_list(),
            column("sentences", None),
            column("codes", []),
            column("evidence", None),
            column("reason_for_visit", None),
        )
        out = []
        for text, sentences, codes, gold, r4v in rows:
            layout = self.layout(text, sentences)
            spans, source = self.document_evidence(text, codes or [], gold, sentences)
            if train:
                self.supervision[source] += 1
            focus, single, flags = sentence_targets(layout, spans, self.code_index)
            out.append(
                SentenceFeature(
                    self.vocab.encode(layout.tokens), layout.bounds, self.encode_r4v(r4v), focus, single, flags
                )
            )
        return out

    def encode_r4v(self, text: str | None) -> np.ndarray:
        return self.vocab.encode(tokenize(text or ""))[: self.sentence_length]

    def length(self, feature: SentenceFeature) -> int:
        return max(1, feature.n_sentences)

    def augment(self, feature, rng):
        raise UserError("data.permutations needs word inputs; set data.permutations=0 for sentence models")

    def collate(self, features: list[SentenceFeature]) -> dict[str, torch.Tensor]:
        b = len(features)
        n = max(1, max(f.n_sentences for f in features))
        length = max(1, max(int(np.diff(f.bounds).max(initial=0)) for f in features))
        r = max(1, max(len(f.r4v) for f in features))
        ids = torch.zeros(b, n, length, dtype=torch.long)
        evidence = torch.zeros(b, n, length)
        focus = torch.zeros(b, n, dtype=torch.long)
        codes = torch.full((b, n), -1, dtype=torch.long)
        r4v = torch.zeros(b, r, dtype=torch.long)
        for row, f in enumerate(features):
            sizes = np.diff(f.bounds)
            sentence = torch.from_numpy(np.repeat(np.arange(f.n_sentences), sizes))
            word = torch.from_numpy(np.arange(len(f.ids)) - np.repeat(f.bounds[:-1], sizes))
            ids[row, sentence, word] = torch.from_numpy(f.ids.astype(np.int64))
            evidence[row, sentence, word] = torch.from_numpy(f.evidence)
            focus[row, : f.n_sentences] = torch.from_numpy(f.focus)
            codes[row, : f.n_sentences] = torch.from_numpy(f.codes)
            r4v[row, : len(f.r4v)] = torch.from_numpy(f.r4v.astype(np.int64))
        word_mask = ids != 0
        sentence_counts = torch.tensor([f.n_sentences for f in features])
        return {
            "sentence_ids": ids,
            "sentence_mask": torch.arange(n) < sentence_counts[:, None],
            "word_mask": word_mask,
            "r4v_ids": r4v,
            "r4v_mask": r4v != 0,
            "focus": focus,
            "sentence_codes": codes,
            "evidence_words": evidence,
        }

    def fill_context(self, ctx: ModelContext) -> None:
        ctx.vocab = self.vocab.tokens
        ctx.embeddings = self.embeddings


def _check_limits(cfg) -> None:
    for key in ("max_sentences", "sentence_length"):
        if cfg.data[key] <= 0:
            raise UserError(f"data.{key} must be positive, got {cfg.data[key]}")


class FocusSentences(Dataset):
    """Level-2 training examples of a part: its single-code focus sentences, one per item."""

    def __init__(self, features: list[SentenceFeature]):
        self.features = features
        self.items = [(doc, int(n)) for doc, f in enumerate(features) for n in np.flatnonzero(f.codes >= 0)]

    def __len__(self) -> int:
        return len(self.items)

    def lengths(self) -> np.ndarray:
        return np.asarray([int(np.diff(self.features[d].bounds)[n]) for d, n in self.items], dtype=np.int64)

    def __getitem__(self, key: ItemKey | int) -> tuple[int, SentenceFeature]:
        doc, n = self.items[key.index if isinstance(key, ItemKey) else int(key)]
        return doc, self.features[doc].sentence(n)
