"""Every key a metrics report can hold: one-line definition and direction, in one place.

``icdbench list metrics`` prints this table and the leaderboard reads it to know which way is better. It is
plain data (no torch import) so that both stay fast. Policies shared by many keys:

* *evaluated codes* are the codes with at least one positive in the evaluated targets; macro averages of
  per-code metrics run over them only (``n_codes_evaluated`` says how many), AUC-ROC also needs a negative.
* per-code and per-document ratios with a zero denominator count as 0 (precision of a code never predicted),
  except per-document set agreement where "no gold and nothing predicted" is a perfect match (1).
* ranking keys average over documents with at least one gold code; ``coverage_error`` and ``lrap`` follow
  scikit-learn exactly and also count documents without gold (as 0 and 1).
* ties in scores are resolved by expectation over a uniformly random order of the tied codes, never by
  position, so the numbers do not depend on the order of codes or documents.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetricInfo:
    definition: str
    higher_is_better: bool | None  # None: a count, not a score
    family: str


FREQUENCY_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("[1-10]", 1, 10),
    ("[11-50]", 11, 50),
    ("[51-100]", 51, 100),
    ("[101+]", 101, None),
)
RANK_KS = (5, 8, 15)
RECALL_KS = (8, 15)

_UP, _DOWN, _COUNT = True, False, None


def _entries() -> dict[str, MetricInfo]:
    out: dict[str, MetricInfo] = {}

    def add(family: str, direction: bool | None, **defs: str) -> None:
        for key, text in defs.items():
            out[key] = MetricInfo(text, direction, family)

    add("counts", _COUNT,
        n_docs="documents evaluated",
        n_codes="codes in the label set (columns)",
        n_codes_evaluated="codes with at least one positive document (the population of macro averages)",
        n_docs_without_gold="documents with no gold code in the label set (kept; see ranking policy)")  # fmt: skip
    add("threshold", _UP,
        micro_precision="pooled TP / pooled predicted over all documents and codes",
        micro_recall="pooled TP / pooled gold",
        micro_f1="pooled 2TP / (predicted + gold)",
        macro_precision="mean per-code precision over evaluated codes (0 for a code never predicted)",
        macro_recall="mean per-code recall over evaluated codes",
        macro_f1="mean of per-code F1 over evaluated codes (Edin et al. 2023)",
        macro_f1_caml="legacy macro-F1: harmonic mean of macro precision and macro recall (CAML, RAC tables)",
        emr="exact match ratio / subset accuracy: share of documents whose predicted set equals the gold set",
        jaccard_samples="code accuracy: mean per-document |P∩G|/|P∪G| (1 when both are empty)",
        jaccard_micro="pooled |P∩G| / pooled |P∪G|",
        jaccard_macro="mean per-code |P∩G|/|P∪G| over evaluated codes",
        samples_f1="mean per-document F1 (1 when both sets are empty)")  # fmt: skip
    out["hamming_loss"] = MetricInfo("share of (document, code) cells predicted wrongly", _DOWN, "threshold")
    for k in RANK_KS:
        out[f"p@{k}"] = MetricInfo(f"precision of the {k} top-scored codes, per document with gold", _UP, "ranking")
    for k in RECALL_KS:
        out[f"r@{k}"] = MetricInfo(f"share of a document's gold codes among its {k} top-scored codes", _UP,
                                   "ranking")  # fmt: skip
    add("ranking", _UP,
        r_precision="precision of the R top-scored codes, R = the document's number of gold codes",
        map_doc="mean per-document average precision of the ranked codes (Edin et al. mAP)",
        lrap="label ranking average precision (scikit-learn; documents without gold count 1)")  # fmt: skip
    out["coverage_error"] = MetricInfo(
        "mean depth of the ranking needed to cover all gold codes (scikit-learn; no gold counts 0)", _DOWN, "ranking"
    )
    # A split's official metric, computed only on that split (icdbench.metrics.codiesp).
    out["map_codiesp"] = MetricInfo("CodiEsp's official MAP (trec_eval at depth 1000 via trectools, as the track's "
                                    "scorer): every gold code counts, every submitted document averages", _UP,
                                    "official")  # fmt: skip
    add("threshold-free", _UP,
        micro_auc_roc="AUC-ROC over all (document, code) cells pooled",
        macro_auc_roc="mean per-code AUC-ROC over codes with a positive and a negative",
        micro_auc_pr="average precision over all cells pooled (AUC-PR, step interpolation as scikit-learn)",
        macro_auc_pr="mean per-code average precision over evaluated codes")  # fmt: skip
    add("hierarchy", _UP,
        jaccard_3char="code accuracy after mapping codes to their first 3 characters (dot removed)",
        jaccard_4char="code accuracy after mapping codes to their first 4 characters (dot removed)",
        hier_precision="count-preserving hierarchical precision over codes and their ancestors (CoPHE-style)",
        hier_recall="count-preserving hierarchical recall",
        hier_f1="count-preserving hierarchical F1")  # fmt: skip
    add("sequence", _UP,
        primary_acc="the top-scored code is the gold first (principal) code",
        primary_in_top3="the gold first code is among the 3 top-scored codes",
        seq_kendall_tau="Kendall tau-b between gold order and score order of correctly predicted codes "
                        "(documents with at least 2 of them)",
        seq_edit_sim="1 - edit distance / longer length, gold sequence vs predicted codes sorted by score")  # fmt: skip
    for name, low, high in FREQUENCY_BUCKETS:
        span = f"{low}-{high}" if high is not None else f">={low}"
        out[f"macro_f1@{name}"] = MetricInfo(f"macro-F1 over evaluated codes with {span} training documents", _UP,
                                             "frequency")  # fmt: skip
    out["recall_unseen"] = MetricInfo("share of gold (document, code) pairs whose code has no training document "
                                      "that are assigned (NaN when none)", _UP, "frequency")
    out["n_unseen_gold"] = MetricInfo("gold (document, code) pairs whose code has no training document", _COUNT,
                                      "frequency")
    add("automation", _UP,
        emr_at_50pct="EMR on the 50% of documents with the fewest expected wrong codes (most confident)",
        jaccard_at_50pct="code accuracy on the 50% most confident documents",
        coverage_at_emr90="largest share of documents that can be automated with EMR >= 0.9 (0 if none)")  # fmt: skip
    # Evidence (icdbench.metrics.functional.evidence): over correctly predicted codes with gold spans in view.
    for k in (5, 10):
        out[f"evidence_p@{k}"] = MetricInfo(f"share of the {k} most attributed tokens that lie in gold evidence "
                                            "(pooled over correctly predicted codes)", _UP, "evidence")  # fmt: skip
        out[f"evidence_r@{k}"] = MetricInfo(f"share of gold evidence tokens among the {k} most attributed "
                                            "(pooled)", _UP, "evidence")  # fmt: skip
    add("evidence", _UP,
        evidence_sentence_hit="share of correctly predicted codes whose top-attributed sentence holds gold evidence",
        evidence_span_f1_exact="MDACE span F1, exact offsets: runs of tokens attributed >= 0.5 x max vs gold spans",
        evidence_span_f1_pi="MDACE span F1, position-independent: spans compared by their cleaned text")  # fmt: skip
    out["evidence_n_cases"] = MetricInfo("correctly predicted codes with gold evidence in view", _COUNT, "evidence")
    # The sentence tagger's own report (seed 002, Tables 3-5), scikit-learn definitions.
    add("sentence-tagger", _UP,
        tagger_macro_precision="focus/non-focus sentence tagging: macro precision over the two classes",
        tagger_macro_recall="focus/non-focus sentence tagging: macro recall",
        tagger_macro_f1="focus/non-focus sentence tagging: macro F1",
        classifier_accuracy="ICD classifier on gold single-code focus sentences: accuracy",
        classifier_macro_f1="ICD classifier on gold single-code focus sentences: macro F1 over codes",
        classifier_weighted_f1="ICD classifier on gold single-code focus sentences: support-weighted F1",
        union_subset_accuracy="union of the tagged sentences' codes: subset accuracy (exact match)",
        union_micro_precision="union rule: pooled precision", union_micro_recall="union rule: pooled recall",
        union_micro_f1="union rule: pooled F1", union_instance_precision="union rule: mean per-document precision",
        union_instance_recall="union rule: mean per-document recall",
        union_instance_f1="union rule: mean per-document (instance-based) F1")  # fmt: skip
    add("sentence-tagger", _COUNT,
        n_test_sentences="test sentences the tagger classified",
        n_test_single_code_focus_sentences="gold single-code focus sentences of the test part")  # fmt: skip
    return out


METRICS: dict[str, MetricInfo] = _entries()
