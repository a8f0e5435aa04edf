"""Datasets: the split registry, split storage and every source that prepares splits.

Importing this package registers every split (``icdbench.datasets.registry.all_splits`` relies on it); each
split module is light to import and loads its heavy dependencies only when preparing.
"""

from icdbench.datasets import mimic as _mimic_splits  # noqa: F401  (registers mimic3-*, mimic4-*)
from icdbench.datasets import public as _public_splits  # noqa: F401  (registers cmc2007, codiesp-*)
from icdbench.datasets.synthetic import splits as _synthetic_splits  # noqa: F401  (registers synth-*)
