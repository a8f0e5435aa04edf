"""The word vocabulary of word-level models: built from a split's train text, saved with every run."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1


@dataclass
class Vocab:
    """id -> token with ``0 = <pad>`` and ``1 = <unk>``; the rest by descending train count, then token."""

    tokens: list[str]
    index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.tokens[:2] != [PAD, UNK]:
            raise ValueError("a vocabulary starts with <pad>, <unk>")
        self.index = {token: i for i, token in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    @classmethod
    def build(cls, documents: Iterable[Iterable[str]], min_count: int, min_docs: int = 1) -> Vocab:
        """Tokens occurring at least ``min_count`` times over ``documents`` (the train part) and in at least
        ``min_docs`` of them (document frequency: CAML's and Edin et al.'s vocabularies keep the words of at
        least 3 train documents)."""
        counts: Counter[str] = Counter()
        doc_counts: Counter[str] = Counter()
        for tokens in documents:
            tokens = list(tokens)
            counts.update(tokens)
            doc_counts.update(set(tokens))
        kept = sorted(
            (t for t, c in counts.items() if c >= min_count and doc_counts[t] >= min_docs),
            key=lambda t: (-counts[t], t),
        )
        return cls([PAD, UNK, *kept])

    def encode(self, tokens: list[str]) -> np.ndarray:
        """``[T]`` int32 ids; unknown tokens map to ``UNK_ID``."""
        get = self.index.get
        return np.fromiter((get(t, UNK_ID) for t in tokens), dtype=np.int32, count=len(tokens))

    def save(self, path: Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text("\n".join(self.tokens) + "\n")

    @classmethod
    def load(cls, path: Path) -> Vocab:
        return cls(Path(path).read_text().splitlines())
