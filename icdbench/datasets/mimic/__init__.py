"""MIMIC-III and MIMIC-IV splits in their published settings (DESIGN.md §4), prepared from the PhysioNet files.

Importing this package registers the splits; preparing one reads the raw files lazily (polars) and writes the
split through ``icdbench.datasets.storage``. Published split-id lists: see ``icdbench.datasets.mimic.sources``.
"""

from icdbench.datasets.mimic import mimic3, mimic4, radiology  # noqa: F401  (register mimic3-*, mimic4-*)
