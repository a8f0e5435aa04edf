"""The published MIMIC text cleaning (DESIGN.md §4) as one polars expression, for millions of notes.

Same rule as ``icdbench.datasets.text.clean_text`` (tests hold them equal): lower case, every run of
characters other than ``a-z0-9`` becomes one space, tokens made only of digits are dropped, whitespace is
collapsed and trimmed. One regex pass does it all: a run of separators and digit-only tokens becomes a space
(the ASCII word boundary that delimits digit tokens counts ``_`` as a letter, so ``_`` is made a space first).
On a few hundred notes with evidence, ``clean_with_offsets`` gives the same text plus the offset map.

Cleaning removes the punctuation and line breaks that end sentences, so sentence boundaries (RAC permutes
sentences, the sentence tagger reads them) are found on the raw text and stored as offsets into the cleaned
text (``sentences_expr``). That is one Python call per note (``split_sentences``: a few ms for a 10,000-character
note), the slowest step of preparing a MIMIC split.
"""

from __future__ import annotations

import polars as pl

from icdbench.datasets.text import clean_sentence_spans

CLEANING = "lowercase; non-alphanumerics -> space; all-digit tokens dropped; whitespace collapsed (Edin et al. 2023)"
SENTENCE_RULE = "split on the raw text (icdbench.datasets.text.split_sentences), stored as offsets in the cleaned text"
TEXT_RULES = {"text": CLEANING, "sentences": SENTENCE_RULE}  # the manifest's account of them
SENTENCES = pl.List(pl.Struct({"start": pl.Int64, "end": pl.Int64}))
_JUNK = r"(?:[^a-z0-9]|(?-u:\b)[0-9]+(?-u:\b))+"
_REASON = r"(?i)chief complaint:[ \t]*\n?[ \t]*([^\n]*)"


def cleaned_columns(raw_text: pl.Expr) -> list[pl.Expr]:
    """What a document keeps of its raw text: the cleaned ``text``, its ``sentences`` and ``reason_for_visit``."""
    return [
        clean_expr(raw_text).alias("text"),
        sentences_expr(raw_text).alias("sentences"),
        reason_for_visit_expr(raw_text).alias("reason_for_visit"),
    ]


def clean_expr(text: pl.Expr) -> pl.Expr:
    """``text`` cleaned; null stays null."""
    lowered = text.str.to_lowercase().str.replace_all("_", " ", literal=True)
    return lowered.str.replace_all(_JUNK, " ").str.strip_chars(" ")


def reason_for_visit_expr(raw_text: pl.Expr) -> pl.Expr:
    """The cleaned line after "Chief Complaint:" in a raw discharge summary; null when absent or empty."""
    reason = clean_expr(raw_text.str.extract(_REASON, 1))
    return pl.when(reason.str.len_bytes() > 0).then(reason).otherwise(None)


def sentences_expr(raw_text: pl.Expr) -> pl.Expr:
    """The sentences of each raw text as ``[{start, end}]`` offsets into its cleaned text; null stays null."""
    return raw_text.map_elements(_sentence_structs, return_dtype=SENTENCES)


def _sentence_structs(raw: str) -> list[dict]:
    return [{"start": start, "end": end} for start, end in clean_sentence_spans(raw)]
