"""``title-match``: each code scored by the lexical similarity of the note to the code's title; no label is read.

The baseline that shows what code descriptions alone are worth where most codes have a handful of training
documents (CodiEsp: ~2,550 codes, ~5 documents each) or none (codes never seen in training still get a score).
A TF-IDF vectoriser (scikit-learn) is fitted on the label set's titles ("long title + short title", as RAC and
DR-CAML read them) together with the training notes, without their labels: the notes give it the words of the
corpus and the titles make words shared by many titles ("unspecified", "other") weigh little. A note's score for
a code is the cosine similarity of their TF-IDF vectors, in [0, 1]. Accents are stripped, so a Spanish note still
matches the English titles on shared medical words ("salmonella", "diabetes"); a real Spanish match needs Spanish
titles, which CodiEsp does not redistribute (the split card says which titles a split has).

It goes through the scikit-learn runner like ``prior``: ``fit(texts, Y)`` ignores ``Y``, there is no setting to
tune, and the threshold is tuned on validation like every model's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from icdbench.errors import UserError
from icdbench.models.registry import Fidelity, register_model


@dataclass
class TitleMatchConfig:
    ngram_max: int = 1  # word n-grams 1..ngram_max
    stop_words: str | None = "english"  # scikit-learn's list; titles are English
    sublinear_tf: bool = True  # 1 + log(tf): a word repeated in a long note counts less than linearly
    short_titles: bool = True  # append the short title to the long one, as RAC and DR-CAML read them


def code_descriptions(titles: list[str], short_titles: list[str | None], with_short: bool) -> list[str]:
    """One text per code: its long title, plus its short title when it has one and ``with_short``."""
    return [f"{title or ''} {short or ''}".strip() if with_short else (title or "")
            for title, short in zip(titles, short_titles)]


class TitleMatch:
    """``fit(texts, Y)`` fits the vectoriser on titles + notes (``Y`` unused); ``predict_scores`` → cosines."""

    def __init__(self, config: TitleMatchConfig, descriptions: list[str]):
        # heavy: scikit-learn loads only when the model is built
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.descriptions = descriptions
        self.vectorizer = TfidfVectorizer(ngram_range=(1, config.ngram_max), stop_words=config.stop_words,
                                          sublinear_tf=config.sublinear_tf, strip_accents="unicode", dtype=np.float32)
        self.title_matrix = None  # [C, V] L2-normalised TF-IDF of the descriptions

    def fit(self, texts: list[str], Y: np.ndarray | None = None) -> TitleMatch:
        try:
            self.vectorizer.fit([*self.descriptions, *texts])
        except ValueError as error:  # every word a stop word, or nothing at all
            raise UserError(f"title-match cannot build TF-IDF features from the titles and notes: {error}") from None
        self.title_matrix = self.vectorizer.transform(self.descriptions)
        return self

    def predict_scores(self, texts: list[str]) -> np.ndarray:
        if self.title_matrix is None:
            raise UserError("the title-match model has not been fitted yet")
        notes = self.vectorizer.transform(texts)  # rows L2-normalised: the product is the cosine
        return np.clip(np.asarray((notes @ self.title_matrix.T).todense(), dtype=np.float32), 0.0, 1.0)


@register_model(
    "title-match",
    family="title-match",
    paper="code-title baseline: TF-IDF cosine between the note and each code's title (no label read)",
    inputs="text",
    config=TitleMatchConfig,
    trainer="sklearn",
    fidelity=Fidelity(reference="none needed: a lexical similarity baseline of this suite (scikit-learn TF-IDF)"),
)
def _build(config: TitleMatchConfig, ctx=None) -> TitleMatch:
    if ctx is None:
        raise UserError("title-match needs the split's code titles (build it through the datamodule)")
    if config.ngram_max < 1:
        raise UserError(f"ngram_max must be at least 1, got {config.ngram_max}")
    descriptions = code_descriptions(ctx.titles, ctx.short_titles, config.short_titles)
    if not any(d.strip() for d in descriptions):
        raise UserError("title-match needs code titles, and no code of this split has one")
    return TitleMatch(config, descriptions)
