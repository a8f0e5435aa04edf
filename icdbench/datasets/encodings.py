"""The input encoding of each input kind (``ModelSpec.inputs``): the one dispatch point, above the encodings
themselves (:mod:`icdbench.datasets.inputs`, :mod:`icdbench.datasets.sentences`)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from icdbench.datasets.inputs import InputEncoding, SegmentInputs, TextInputs, WordInputs
from icdbench.datasets.sentences import SentenceInputs
from icdbench.datasets.storage import Split
from icdbench.errors import UserError


def input_class(kind: str):
    """The encoding class for an input kind (the one dispatch point)."""
    if kind == "words":
        return WordInputs
    if kind == "segments":
        return SegmentInputs
    if kind == "text":
        return TextInputs
    if kind == "sentences":
        return SentenceInputs
    raise UserError(f"unknown input kind {kind!r}")


def build_inputs(kind: str, split: Split, train: pl.DataFrame, cfg, cache_dir: Path) -> InputEncoding:
    return input_class(kind).fit(split, train, cfg, cache_dir)


def load_inputs(kind: str, run_dir: Path, cfg) -> InputEncoding:
    return input_class(kind).load(run_dir, cfg)
