"""Assemble a document from sections of sentences while recording sentence offsets and evidence spans."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from icdbench.datasets.synthetic import lexicon
from icdbench.datasets.synthetic.pool import PoolCode


@dataclass(frozen=True)
class Mention:
    """A mention in a sentence; ``code`` is set when it evidences a gold code (None for distractors)."""

    text: str
    code: str | None


Piece = str | Mention
Sentence = list[Piece]


@dataclass
class Section:
    heading: str
    sentences: list[Sentence] = field(default_factory=list)
    as_list: bool = False  # one sentence per line ("- item") instead of a paragraph


@dataclass
class Rendered:
    text: str
    sentences: list[tuple[int, int]]
    evidence: list[tuple[str, int, int]]


def words(sentence: Sentence) -> int:
    return sum(len((p.text if isinstance(p, Mention) else p).split()) for p in sentence)


def render(sections: list[Section], header: str = "") -> Rendered:
    """Join sections into text. Each heading, sentence and list item is one entry of ``sentences``."""
    out: list[str] = []
    pos = 0
    spans: list[tuple[int, int]] = []
    evidence: list[tuple[str, int, int]] = []

    def emit(text: str) -> None:
        nonlocal pos
        out.append(text)
        pos += len(text)

    def emit_sentence(sentence: Sentence) -> None:
        start = pos
        for i, piece in enumerate(sentence):
            text = piece.text if isinstance(piece, Mention) else piece
            if i == 0:
                text = text[:1].upper() + text[1:]
            if isinstance(piece, Mention) and piece.code is not None:
                evidence.append((piece.code, pos, pos + len(text)))
            emit(text)
        spans.append((start, pos))

    if header:
        for line in header.split("\n"):
            if line.strip():
                lead = len(line) - len(line.lstrip())
                spans.append((pos + lead, pos + len(line.rstrip())))
            emit(line + "\n")
        emit("\n")
    for section in sections:
        if not section.sentences:
            continue
        spans.append((pos, pos + len(section.heading) + 1))
        emit(section.heading + ":\n")
        for i, sentence in enumerate(section.sentences):
            if section.as_list:
                emit("- ")
            elif i:
                emit(" ")
            emit_sentence(sentence)
            if section.as_list:
                emit("\n")
        emit("\n" if section.as_list else "\n\n")
    return Rendered("".join(out).rstrip() + "\n", spans, evidence)


def template(text: str, mention: Mention, rng: random.Random, age: float = 60) -> Sentence:
    """Split ``text`` at ``{m}`` and fill the other slots of the assertion templates."""
    filled = text.format_map(_Slots(rng, age))
    before, _, after = filled.partition("\0")
    return [p for p in (before, mention, after) if p != ""]


class _Slots(dict):
    def __init__(self, rng: random.Random, age: float):
        super().__init__()
        self.rng, self.age = rng, age

    def __missing__(self, key: str) -> str:
        rng = self.rng
        values = {
            "m": "\0", "adj": rng.choice(lexicon.ADJECTIVES), "test": rng.choice(lexicon.TESTS),
            "reason": rng.choice(lexicon.REASONS), "finding": rng.choice(lexicon.FINDINGS),
            "age": str(rng.randint(45, 92)), "decade": str(rng.choice((40, 50, 60, 70))),
            "year": str(rng.randint(1995, 2019)), "day": str(rng.randint(1, 9)),
        }
        return values[key]


def mention(code: PoolCode, rng: random.Random, displace: float, gold: bool) -> Mention:
    return Mention(code.forms.render(rng, displace), code.code if gold else None)
