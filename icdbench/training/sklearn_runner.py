"""The scikit-learn runner (``trainer="sklearn"``): ``model.fit(train_texts, Y)`` then
``model.predict_scores(texts) -> [N, C]`` probabilities, recorded like every other run.

The fitted model is not saved in the run folder: a TF-IDF vocabulary of note n-grams is note text, and note
text never leaves ``DATA_DIR``. Re-running the same command reproduces it (the fit is deterministic).
"""

from __future__ import annotations

import time

import numpy as np

from icdbench.training.job import RunJob, ScoredPart, ScoredRun


def fit_sklearn(job: RunJob) -> ScoredRun:
    datamodule = job.datamodule()
    model = job.spec.build(job.model_config(), datamodule.ctx)
    train = datamodule.part("train")
    start = time.perf_counter()
    model.fit(train.features, datamodule.targets("train"))
    train_seconds = time.perf_counter() - start

    def score(name: str) -> tuple[ScoredPart, float]:
        part = datamodule.part(name)
        begin = time.perf_counter()
        scores = np.asarray(model.predict_scores(part.features), dtype=np.float32)
        seconds = time.perf_counter() - begin
        expected = (len(part), datamodule.ctx.n_codes)
        if scores.shape != expected:
            raise RuntimeError(f"{job.spec.name}.predict_scores returned {scores.shape}, expected {expected}")
        return ScoredPart(np.arange(len(part)), scores, datamodule.targets(name)), seconds

    val, _ = score("val")
    test, test_seconds = score("test")
    return ScoredRun(
        val=val,
        test=test,
        train_docs_per_s=len(train) / train_seconds if train_seconds > 0 else None,
        inference_ms_per_doc=1000.0 * test_seconds / max(1, len(test.doc_index)),
        selection="fitted",
    )
