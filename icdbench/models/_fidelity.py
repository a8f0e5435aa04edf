"""Departures several model families share, for their :class:`~icdbench.models.registry.Fidelity` entries."""

from __future__ import annotations

from icdbench.models.registry import Departure


def masked_padding(where: str) -> Departure:
    """Padding kept out of ``where``, so a document's logits do not depend on its batch mates."""
    return Departure(
        "deliberate",
        f"padding is masked out of {where}, so a document's logits do not depend on its batch mates (the "
        "release relied on length-sorted batches); mask_padding=false restores the release",
    )


PRIOR_BIAS_SWITCH = Departure(
    "deliberate",
    "output biases start at each code's train prevalence, not PyTorch's default initialisation; "
    "prior_bias=false restores it",
)
PRIOR_BIAS = Departure(
    "deliberate", "output biases start at each code's train prevalence (the paper does not say how they start)"
)
UNIT_WORD_VECTORS = Departure(
    "deliberate",
    "word2vec vectors start at length 1, as Mullenbach et al.'s release loads them for all its models; Edin et "
    "al.'s reimplementation keeps gensim's scale (unit_word_vectors=false)",
)
# Models Edin et al. 2023 published settings for (settings/experiments/{mimic3-clean,mimic4-icd9,mimic4-icd10}).
EDIN_THRESHOLD = Departure(
    "deliberate",
    "on Edin et al.'s splits the global threshold is the exact maximiser of validation micro-F1; Edin et al. "
    "search 100 points of [0, 1]",
)
EDIN_PRECISION = Departure(
    "hardware",
    "Edin et al. train with mixed precision (use_amp); runs here are float32 unless train.precision=bf16-mixed",
)
EDIN_SHARED = (EDIN_THRESHOLD, EDIN_PRECISION)
