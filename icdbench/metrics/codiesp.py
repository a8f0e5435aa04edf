"""The CodiEsp track's official scoring inside icdbench: which splits it applies to, their ``map_codiesp`` key
(:mod:`icdbench.metrics.functional.trec_map`) and the rows of the official submission files that
``icdbench export`` writes.

Codes are written lower-case, as the track's gold files and scorer have them (icdbench's canonical CodiEsp codes
differ from the gold files' only in case). The valid-code list is the split's label set, i.e. the union of the
gold codes of train, dev and test (the official ``codiesp_codes`` lists are not redistributed).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

import numpy as np
import torch

from icdbench.metrics.functional.trec_map import DEPTH, code_order, ranked_columns, trec_map
from icdbench.metrics.scores_file import load_scores

SPLIT_NAME = re.compile(r"codiesp-(?P<task>[dp])(?P<english>-en)?")
X_LABELS = {"d": "DIAGNOSTICO", "p": "PROCEDIMIENTO"}  # the label column of CodiEsp-X files
OFFICIAL_KEY = "map_codiesp"


def codiesp_task(split_name: str) -> str | None:
    """``"d"`` or ``"p"`` for a CodiEsp split (Spanish or English), None for any other split."""
    match = SPLIT_NAME.fullmatch(split_name)
    return match["task"] if match else None


def is_spanish(split_name: str) -> bool:
    """Whether the split's text is the Spanish original (CodiEsp-X offsets point into it)."""
    match = SPLIT_NAME.fullmatch(split_name)
    return bool(match) and not match["english"]


def official_keys(codes: Sequence[str], scores, gold: Sequence[Sequence[str]]) -> dict[str, float]:
    """``{"map_codiesp": MAP}`` of ``scores`` ``[N, C]`` (columns ``codes``) against each row's gold codes,
    exactly as the official scorer computes it on the file :func:`submission_rows` writes."""
    index = {code: j for j, code in enumerate(codes)}
    scores = torch.as_tensor(np.asarray(scores))
    targets = torch.zeros(scores.shape, dtype=torch.bool)
    outside = torch.zeros(scores.shape[0], dtype=torch.long)
    for row, doc_codes in enumerate(gold):
        distinct = set(doc_codes)
        inside = [index[code] for code in distinct if code in index]
        targets[row, inside] = True
        outside[row] = len(distinct) - len(inside)
    value = trec_map(scores, targets, tie_order=code_order(codes), gold_outside=outside)
    return {OFFICIAL_KEY: value}


def submission_rows(doc_ids: Sequence[str], codes: Sequence[str], scores, depth: int = DEPTH) -> Iterator[str]:
    """The CodiEsp-D/P submission lines ``doc_id<TAB>code``: each document's ``depth`` best codes in rank order
    (the scorer reads no further)."""
    ranked = ranked_columns(torch.as_tensor(np.asarray(scores)), code_order(codes), depth)
    lowered = [code.lower() for code in codes]
    for doc_id, columns in zip(doc_ids, ranked.tolist()):
        for column in columns:
            yield f"{doc_id}\t{lowered[column]}\n"


def x_row(doc_id: str, start: int, end: int, task: str, code: str) -> str:
    """One CodiEsp-X submission line: ``doc_id<TAB>start end<TAB>label<TAB>code``."""
    return f"{doc_id}\t{start} {end}\t{X_LABELS[task]}\t{code.lower()}\n"


def split_official_keys(split_name: str, scores_file, gold: Sequence[Sequence[str]]) -> dict[str, float]:
    """The official key of a CodiEsp split for a run's saved test scores (the file ``icdbench export`` reads, so
    both see the same float32 ties), ``{}`` for any other split. ``gold``: the codes of each row of the file."""
    if codiesp_task(split_name) is None:
        return {}

    _, codes, scores = load_scores(scores_file)
    return official_keys(codes, scores, gold)


X_TOLERANCE = 10  # characters a predicted position may extend beyond the gold reference on each side


def x_scores(predicted, gold, *, valid=None, tolerance: int = X_TOLERANCE) -> dict[str, float]:
    """CodiEsp-X micro precision, recall and F1 as the official ``codiespX_evaluation.py`` counts them.

    ``predicted`` and ``gold``: iterables of ``(doc_id, code, start, end)``; a discontinuous gold reference is
    given as its first start and last end. Codes are compared lower-cased; predictions whose code is not in
    ``valid`` (lower-cased codes; default: every code) are dropped. A (document, code) pair counts once however
    many positions it has; it is a true positive when one of its predicted positions starts at most
    ``tolerance`` characters before and ends at most ``tolerance`` after one of its gold references, containing
    it. Precision divides by the predicted pairs, recall by the gold pairs; F1 is 0 when both are 0.
    """
    allowed = None if valid is None else {code.lower() for code in valid}
    spans: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for doc, code, start, end in predicted:
        if allowed is None or code.lower() in allowed:
            spans.setdefault((doc, code.lower()), []).append((int(start), int(end)))
    references: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for doc, code, start, end in gold:
        references.setdefault((doc, code.lower()), []).append((int(start), int(end)))

    def found(pair: tuple[str, str]) -> bool:
        return any(0 <= g_start - p_start <= tolerance and 0 <= p_end - g_end <= tolerance
                   for p_start, p_end in spans.get(pair, ()) for g_start, g_end in references[pair])

    true_positives = sum(found(pair) for pair in references)
    precision = true_positives / len(spans) if spans else float("nan")
    recall = true_positives / len(references) if references else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}
