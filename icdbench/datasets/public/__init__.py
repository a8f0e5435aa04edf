"""Public corpora that need no credentials (users download them): CMC 2007 and CodiEsp v4.

Importing this package registers ``cmc2007`` and ``codiesp-*``. Cross-validated splits are stored fold by fold
(``icdbench.datasets.public.folds.fold_dirs``).
"""

from icdbench.datasets.public import cmc2007, codiesp  # noqa: F401  (register cmc2007, codiesp-*)
