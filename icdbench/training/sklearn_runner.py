"""The scikit-learn runner (``trainer="sklearn"``): ``model.fit(train_texts, Y)`` then
``model.predict_scores(texts) -> [N, C]`` probabilities, recorded like every other run.

A model with settings to tune (:class:`GridSearched`, e.g. the linear baselines' C) is selected on validation
the way an epoch is: every setting is fitted on train and scored on validation with the run's monitor
(``job.monitor``, one of :data:`icdbench.training.monitor.MONITORED`), the best is kept (:func:`better`
with no loss; ties keep the earlier setting, which the model orders strongest regularisation first) and only
it scores the test part. The record gets one curve point per setting (``{**setting, "monitor"}``), the
selected index, ``stop_reason: converged`` (the grid was searched to its end) and the setting in
``extra.chosen``. A train+val run (:mod:`icdbench.training.official`) fits only the setting its train-only
run chose. A model without settings (``prior``) is fitted once: empty curve, no selected point.

The fitted model is not saved in the run folder: a TF-IDF vocabulary of note n-grams is note text, and note
text never leaves ``DATA_DIR``. Re-running the same command reproduces it (the fit is deterministic).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

import numpy as np

from icdbench.errors import UserError
from icdbench.training.job import RunJob, ScoredPart, ScoredRun
from icdbench.training.monitor import MONITORED, monitor_metrics
from icdbench.training.selection import better


class Scorer(Protocol):
    def predict_scores(self, texts: list[Any]) -> np.ndarray: ...


@runtime_checkable
class GridSearched(Protocol):
    """A fitted model with settings chosen on validation: ``grid`` lists them in tie-break order (the
    preferred one first) and ``fit_grid(texts, Y)`` yields ``(setting, fitted scorer)`` one at a time."""

    grid: list[dict[str, Any]]

    def fit_grid(self, texts: list[Any], Y: np.ndarray) -> Iterator[tuple[dict[str, Any], Scorer]]: ...


def fit_sklearn(job: RunJob) -> ScoredRun:
    datamodule = job.datamodule()
    model = job.spec.build(job.model_config(), datamodule.ctx)
    train = datamodule.part("train")

    def score(scorer: Scorer, name: str) -> tuple[ScoredPart, float]:
        part = datamodule.part(name)
        begin = time.perf_counter()
        scores = np.asarray(scorer.predict_scores(part.features), dtype=np.float32)
        seconds = time.perf_counter() - begin
        expected = (len(part), datamodule.ctx.n_codes)
        if scores.shape != expected:
            raise RuntimeError(f"{job.spec.name}.predict_scores returned {scores.shape}, expected {expected}")
        return ScoredPart(np.arange(len(part)), scores, datamodule.targets(name)), seconds

    start = time.perf_counter()
    if isinstance(model, GridSearched) and job.fixed is not None and job.fixed.setting:
        model.grid = [dict(job.fixed.setting)]  # a train+val run fits the setting its train-only run chose
    if isinstance(model, GridSearched):
        # The search (every fit and its validation scoring) is the model's training cost
        best, val, curve, selected = _search(job, model, train.features, datamodule.targets("train"), score)
        extra = {"chosen": {name: value for name, value in curve[selected].items() if name != "monitor"}}
        best_monitor = curve[selected]["monitor"]
    else:
        model.fit(train.features, datamodule.targets("train"))
        best = model
        val, curve, selected, extra, best_monitor = None, [], None, {}, None
    train_seconds = time.perf_counter() - start
    if val is None:
        val, _ = score(best, "val")
    test, test_seconds = score(best, "test")
    return ScoredRun(
        val=val,
        test=test,
        train_docs_per_s=len(train) / train_seconds if train_seconds > 0 else None,
        inference_ms_per_doc=1000.0 * test_seconds / max(1, len(test.doc_index)),
        selection="fitted",
        best_monitor=best_monitor,
        curve=curve,
        selected=selected,
        stop_reason="converged",
        extra=extra,
    )


def _search(job: RunJob, model: GridSearched, texts: list[Any], Y: np.ndarray, score):
    """``(best scorer, its validation ScoredPart, curve, index of the best point)`` over ``model.grid``."""
    key = job.monitor.removeprefix("val/")
    if key not in MONITORED:
        choices = ", ".join(f"val/{name}" for name in MONITORED)
        raise UserError(f"{job.spec.name} selects its settings on train.monitor; {job.monitor} is not computed "
                        f"for fitted models (use one of {choices})")  # fmt: skip
    mode = job.cfg.train.monitor_mode
    best = best_val = None
    curve: list[dict[str, Any]] = []
    selected = None
    for setting, fitted in model.fit_grid(texts, Y):
        val, _ = score(fitted, "val")
        value = monitor_metrics(val.scores, val.targets)[key]
        curve.append({**setting, "monitor": value})
        # No loss to break ties: a tie keeps the earlier setting (the model's preferred, e.g. the smaller C)
        if selected is None or better(value, None, curve[selected]["monitor"], None, mode):
            best, best_val, selected = fitted, val, len(curve) - 1
        del fitted, val  # only the best and the one being fitted stay alive
    if selected is None:
        raise UserError(f"{job.spec.name} has an empty settings grid")
    return best, best_val, curve, selected
