"""Silver evidence spans: where a document has no gold evidence, find each of its gold codes in its sentences by
matching the code's title and synonyms.

A code's *phrases* are its long title, its short title and, for ICD-10-CM diagnoses, the code's inclusion terms
and "includes" notes (``simple_icd_10_cm``). A phrase
is reduced to its content stems: parenthesised non-essential modifiers, "without ..." clauses and the coders'
boilerplate ("unspecified", "NOS", "initial encounter") are removed, the rest is tokenised like the notes
(:func:`icdbench.datasets.text.tokenize`), English stop words are dropped and words are Porter-stemmed
(gensim). A sentence's *coverage* of a phrase is the share of the phrase's stems found among its tokens, each stem
weighted by its inverse frequency over the label set's phrases.

A sentence matches a phrase only if it holds the phrase's most distinctive stem (the largest weight: the
"anticoagulants" of "long term use of anticoagulants"). For each gold code the matching sentences with the
highest coverage (over all of the code's phrases) are its evidence sentences, provided that coverage reaches
``min_coverage``; the matched tokens, with gaps of at most ``max_gap``
other tokens bridged, become the spans. Negation and history are not recognised, so silver spans are noisier
than gold ones; the run record says which supervision a model had.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import polars as pl

from icdbench.datasets.text import split_sentences, tokenize, tokenize_with_offsets

MIN_COVERAGE = 0.25  # with the distinctive stem required; measured on synth-tiny against gold evidence
MAX_GAP = 2  # unmatched tokens bridged inside one span ("chronic renal insufficiency stage")

# Coders' words that clinicians do not write; they carry no evidence.
TITLE_FILLER = frozenset(
    "unspecified specified other nos elsewhere classified initial encounter subsequent sequela type site".split()
)
_PARENTHESES = re.compile(r"\([^)]*\)|\[[^\]]*\]")
_WITHOUT_CLAUSE = re.compile(r"\bwithout\b[^,;]*", re.IGNORECASE)

Phrase = frozenset[str]


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    # heavy: scikit-learn, needed only for silver evidence
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS) | TITLE_FILLER


@lru_cache(maxsize=1)
def _stemmer():
    # heavy: gensim, needed only for silver evidence
    from gensim.parsing.porter import PorterStemmer

    return PorterStemmer()


@lru_cache(maxsize=1 << 16)
def stem(token: str) -> str:
    return _stemmer().stem(token)


def phrase_stems(text: str) -> Phrase:
    """The content stems of a title or synonym: "Essential (primary) hypertension" -> {"essenti", "hypertens"}."""
    text = _WITHOUT_CLAUSE.sub(" ", _PARENTHESES.sub(" ", text or ""))
    stop = _stop_words()
    return frozenset(stem(token) for token in tokenize(text) if token not in stop)


def icd10cm_synonyms(code: str) -> list[str]:
    """Inclusion terms and "includes" notes of an ICD-10-CM code (its own: a parent's notes are shared by all
    its children and would match any sibling's mention)."""
    # heavy: the ICD-10-CM tables load on first use
    import simple_icd_10_cm as cm

    if not cm.is_valid_item(code):
        return []
    return cm.get_inclusion_term(code) + cm.get_includes(code)


def _is_icd10cm(codes: pl.DataFrame) -> bool:
    """ICD-10-CM diagnosis codes start with a letter; ICD-9-CM ones mostly with a digit."""
    dx = [c for c, kind in zip(codes["code"].to_list(), codes["kind"].to_list()) if kind == "dx"]
    return bool(dx) and not any(c[:1].isdigit() for c in dx)


@dataclass(frozen=True)
class CodePhrases:
    """Every code's phrases and the weight of each stem: its smoothed inverse frequency over all phrases of the
    label set, so that words shared by many titles ("long term use", "disease") count less than the words
    that tell codes apart ("anticoagulants")."""

    phrases: dict[str, tuple[Phrase, ...]]
    weights: dict[str, float]

    @classmethod
    def from_codes(cls, codes: pl.DataFrame) -> CodePhrases:
        """From ``codes.parquet``'s titles and, for ICD-10-CM, the code tables' synonyms."""
        icd10cm = _is_icd10cm(codes)
        phrases: dict[str, tuple[Phrase, ...]] = {}
        rows = zip(
            codes["code"].to_list(), codes["kind"].to_list(), codes["title"].to_list(), codes["short_title"].to_list()
        )
        for code, kind, title, short in rows:
            texts = [title or "", short or ""] + (icd10cm_synonyms(code) if icd10cm and kind == "dx" else [])
            phrases[code] = tuple(dict.fromkeys(p for p in map(phrase_stems, texts) if p))
        counts: dict[str, int] = defaultdict(int)
        total = 0
        for code_phrases in phrases.values():
            for phrase in code_phrases:
                total += 1
                for s in phrase:
                    counts[s] += 1
        weights = {s: float(np.log((1 + total) / (1 + n)) + 1.0) for s, n in counts.items()}
        return cls(phrases, weights)

    def key_stem(self, phrase: Phrase) -> str:
        """The phrase's most distinctive stem (largest weight; ties by the stem itself)."""
        return max(sorted(phrase), key=self.weights.__getitem__)

    def coverage(self, phrase: Phrase, found: set[str] | dict) -> float:
        return sum(self.weights[s] for s in found) / sum(self.weights[s] for s in phrase)


@dataclass(frozen=True)
class _Match:
    coverage: float
    positions: tuple[int, ...]  # matched token indices within one sentence


def _best_sentences(
    code: str, table: CodePhrases, index: dict[str, list[int]], sentence_of: np.ndarray
) -> dict[int, _Match]:
    """Per sentence, its best coverage over the code's phrases and the tokens that matched."""
    best: dict[int, _Match] = {}
    for phrase in table.phrases.get(code, ()):
        found: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        for s in phrase:
            for position in index.get(s, ()):
                sentence = int(sentence_of[position])
                if sentence >= 0:
                    found[sentence][s].append(position)
        key = table.key_stem(phrase)
        for sentence, by_stem in found.items():
            if key not in by_stem:
                continue
            coverage = table.coverage(phrase, by_stem)
            if sentence not in best or coverage > best[sentence].coverage:
                positions = tuple(sorted(p for ps in by_stem.values() for p in ps))
                best[sentence] = _Match(coverage, positions)
    return best


def _runs(positions: Sequence[int], max_gap: int) -> list[tuple[int, int]]:
    """Inclusive ``(first, last)`` token runs, joining positions at most ``max_gap`` tokens apart."""
    runs: list[list[int]] = []
    for p in positions:
        if runs and p - runs[-1][1] <= max_gap + 1:
            runs[-1][1] = p
        else:
            runs.append([p, p])
    return [(a, b) for a, b in runs]


def silver_evidence(
    text: str,
    codes: Sequence[str],
    table: CodePhrases,
    sentences: Sequence[tuple[int, int]] | None = None,
    *,
    min_coverage: float = MIN_COVERAGE,
    max_gap: int = MAX_GAP,
) -> list[dict]:
    """Silver spans ``[{"code", "start", "end"}]`` (raw offsets, like the ``evidence`` column) for ``codes``.

    ``sentences`` are the note's ``(start, end)`` sentence offsets (default: :func:`split_sentences`)."""
    located = tokenize_with_offsets(text)
    if not located or not codes:
        return []
    starts = np.asarray([s for _, s, _ in located], dtype=np.int64)
    ends = np.asarray([e for _, _, e in located], dtype=np.int64)
    sentences = sorted(sentences) if sentences is not None else split_sentences(text)
    sentence_of = np.full(len(located), -1, dtype=np.int64)
    for n, (s_start, s_end) in enumerate(sentences):
        sentence_of[np.searchsorted(starts, s_start) : np.searchsorted(starts, s_end)] = n
    index: dict[str, list[int]] = defaultdict(list)
    for position, (token, _, _) in enumerate(located):
        index[stem(token)].append(position)
    spans: list[dict] = []
    for code in dict.fromkeys(codes):
        matches = _best_sentences(code, table, index, sentence_of)
        top = max((m.coverage for m in matches.values()), default=0.0)
        if top < min_coverage:
            continue
        for sentence in sorted(n for n, m in matches.items() if m.coverage == top):
            for first, last in _runs(matches[sentence].positions, max_gap):
                spans.append({"code": code, "start": int(starts[first]), "end": int(ends[last])})
    return spans
