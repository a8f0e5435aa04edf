"""The evaluation contract of the suite (DESIGN.md §6): ``evaluate`` gives every key of
:mod:`icdbench.metrics.keys` for one score matrix, ``evaluate_settings`` the full and top-50 reports of one run.

Subpackages: ``functional`` (pure functions, one per metric family), ``thresholds`` (decision rules tuned on
validation), ``stats`` (bootstrap intervals, paired tests, seed aggregation), ``human`` (coder agreement),
``collect`` (score gathering in the training loop), ``scores_file`` (the scores file format).
"""

from icdbench.metrics.report import automation_curve_of, evaluate, evaluate_settings, top_codes
from icdbench.metrics.thresholds import TopK, tune_threshold

__all__ = ["TopK", "automation_curve_of", "evaluate", "evaluate_settings", "top_codes", "tune_threshold"]
