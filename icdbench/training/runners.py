"""Which runner trains a model (``ModelSpec.trainer``): ``lightning`` (every neural model), ``sklearn``, or
``custom``: a family's own orchestration over the same fit path (``icdbench.training.fit``), one file per family
in ``icdbench.training.families``. The model files below (``models``) name no runner; the runners live here,
above them, and point down at the models they train."""

from __future__ import annotations

from collections.abc import Callable

from icdbench.errors import UserError
from icdbench.models.registry import ModelSpec
from icdbench.training.families.hmhan import fit_hmhan
from icdbench.training.families.sentence_tagger import run_sentence_tagger
from icdbench.training.fit import fit_lightning
from icdbench.training.job import RunJob, ScoredRun
from icdbench.training.sklearn_runner import fit_sklearn

Runner = Callable[[RunJob], ScoredRun]

# trainer="custom" families -> their runner: HMHAN's SMOTE stage on frozen features, the sentence tagger's stages
CUSTOM_RUNNERS: dict[str, Runner] = {
    "hmhan": fit_hmhan,
    "sentence-tagger": run_sentence_tagger,
}


def runner_of(spec: ModelSpec) -> Runner:
    if spec.trainer == "sklearn":
        return fit_sklearn
    if spec.trainer == "custom":
        if spec.family not in CUSTOM_RUNNERS:
            raise UserError(f"model {spec.name} declares trainer='custom' but its family {spec.family!r} has no "
                            "runner in icdbench.training.runners.CUSTOM_RUNNERS")  # fmt: skip
        return CUSTOM_RUNNERS[spec.family]
    return fit_lightning
