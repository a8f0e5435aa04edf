"""Datasets: the split registry, split storage and every source that prepares splits.

The split modules register themselves when ``icdbench.datasets.registry.all_splits`` first imports them
(``SPLIT_MODULES``); each is light to import and loads its heavy dependencies only when preparing.
"""
