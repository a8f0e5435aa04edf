"""Validation metrics logged every epoch (``val/<name>``); any of them can be the early-stopping monitor.

Only metrics that are cheap on a whole validation set: ranking (``p@8``, ``map_doc``), ``micro_f1`` at a 0.5
threshold (the tuned threshold exists only at the end) and ``macro_auc_pr``. Computed by the metrics package.
"""

from __future__ import annotations

import numpy as np

from icdbench.config import MONITORED
from icdbench.metrics import evaluate


def monitor_metrics(scores: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """``scores`` ``[N, C]`` float probabilities, ``targets`` ``[N, C]`` bool → the monitored metrics."""
    report = evaluate(scores, targets, threshold=0.5, keys=MONITORED)
    return {name: float(report[name]) for name in MONITORED if name in report}
