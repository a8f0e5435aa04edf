"""The embedded synthetic corpus (DESIGN.md §5): discharge summaries and radiology reports generated from
real ICD code tables, with gold evidence spans, distractors and label noise; plus a writer of MIMIC-shaped raw
files from the same generator.

Modules: ``lexicon`` (words), ``concepts`` (the curated head of the code distribution), ``mentions`` (title
to surface forms), ``pool`` (head + tail from the tables), ``generator`` (patients, admissions, codes),
``builder`` / ``documents`` / ``radiology`` / ``filler`` (text), ``corpus`` (streaming, the version),
``splits`` (registration), ``mimic_shaped`` (PhysioNet-shaped files).
"""
