"""Agreement of one coder's code sets with a reference, as in the human-coder table of Kim & Ganapathi
(2021, Table 1: macro and micro Jaccard, precision and recall) — and every other set-based key of a report,
so a coder and a model can stand in one table.

Macro averages run over the codes the *reference* uses (the same policy as model reports); a code the coder
assigns that the reference never uses counts in the micro numbers as a false positive.
"""

from __future__ import annotations

from collections.abc import Sequence

from icdbench.metrics.functional.classification import SetCounts, classification_metrics
from icdbench.metrics.functional.hierarchy import jaccard_at_depth
from icdbench.metrics.functional.sets import CodeSets
from icdbench.metrics.keys import METRICS

RAC_TABLE = ("jaccard_macro", "jaccard_micro", "macro_precision", "micro_precision", "macro_recall", "micro_recall")


def coder_agreement(
    coder_sets: Sequence[Sequence[str]], reference_sets: Sequence[Sequence[str]], *, codes: Sequence[str] | None = None
) -> dict[str, float]:
    """Set-based report of ``coder_sets`` against ``reference_sets`` (one list of codes per document, same
    documents in the same order). ``codes``: the label set; by default every code either side uses.

    Returns the threshold-based keys, ``jaccard_3char``/``jaccard_4char`` and the counts; ``RAC_TABLE`` names
    the six of Kim & Ganapathi's table. Raises ``ValueError`` on mismatched lengths or codes outside ``codes``.
    """
    if len(coder_sets) != len(reference_sets):
        raise ValueError(f"{len(coder_sets)} coder documents but {len(reference_sets)} reference documents")
    if not reference_sets:
        raise ValueError("no documents to compare")
    for name, sets in (("coder_sets", coder_sets), ("reference_sets", reference_sets)):
        if any(isinstance(s, str) for s in sets):
            raise ValueError(f"{name} must hold one list of codes per document, not strings")
    used = sorted({str(c) for sets in (coder_sets, reference_sets) for s in sets for c in s})
    label_set = [str(c) for c in codes] if codes is not None else used
    index = {code: i for i, code in enumerate(label_set)}
    unknown = [c for c in used if c not in index]
    if unknown:
        raise ValueError(f"{len(unknown)} codes are not in codes, e.g. {unknown[0]!r}")
    if not label_set:
        raise ValueError("neither side assigns any code")

    def as_sets(sets: Sequence[Sequence[str]]) -> CodeSets:
        return CodeSets.from_lists([[index[str(c)] for c in s] for s in sets], len(label_set))

    coder, reference = as_sets(coder_sets), as_sets(reference_sets)
    counts = SetCounts.of(coder, reference)
    out = {
        "n_docs": len(reference_sets),
        "n_codes": len(label_set),
        "n_codes_evaluated": int(counts.evaluated.sum()),
        "n_docs_without_gold": int((counts.gold_doc == 0).sum()),
        **classification_metrics(counts),
        "jaccard_3char": jaccard_at_depth(coder, reference, label_set, 3),
        "jaccard_4char": jaccard_at_depth(coder, reference, label_set, 4),
    }
    return {key: float(out[key]) for key in METRICS if key in out}
