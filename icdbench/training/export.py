"""``icdbench export RUN_DIR --format codiesp-d|codiesp-p|codiesp-x``: a finished run's test predictions as the
official CodiEsp submission file, to score with the track's own scripts (``codiespD_P_evaluation.py``,
``codiespX_evaluation.py``).

* ``codiesp-d`` / ``codiesp-p``: ``doc_id<TAB>code``, each test document's 1,000 best codes in rank order
  (:func:`icdbench.metrics.codiesp.submission_rows`; the order the ``map_codiesp`` key scores).
* ``codiesp-x``: ``doc_id<TAB>start end<TAB>DIAGNOSTICO|PROCEDIMIENTO<TAB>code`` for every code the run assigns
  (its tuned threshold), one line per evidence span: the runs of text positions the saved model attributes at
  least half its peak attribution to (:func:`icdbench.metrics.functional.evidence.predicted_spans`), as offsets
  into the Spanish text. Only neural runs on the Spanish splits have them.

A run folder keeps the scores of its test part only. The file holds document ids, codes and offsets, never
note text; it is written whole or not at all.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from icdbench.errors import UserError
from icdbench.io import atomic_write_text
from icdbench.metrics.codiesp import codiesp_task, is_spanish, submission_rows, x_row
from icdbench.metrics.functional.evidence import EvidenceCase, predicted_spans
from icdbench.metrics.scores_file import load_scores
from icdbench.models.registry import get_model
from icdbench.results.record import SCORES_FILE, RunRecord, read_run
from icdbench.training.evidence import collect_attributions, finished_run_job, saved_model
from icdbench.training.job import MODEL_FILE

FORMATS = ("codiesp-d", "codiesp-p", "codiesp-x")
PARTS = ("test",)
TASK_NAMES = {"d": "diagnoses", "p": "procedures"}


def export_run(run_dir, fmt: str, *, part: str = "test", out=None) -> Path:
    """Write the submission file of format ``fmt`` for the finished run ``run_dir``; returns its path (default
    ``RUN_DIR/<format>-<part>.tsv``)."""
    run_dir = Path(run_dir)
    if fmt not in FORMATS:
        raise UserError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if part not in PARTS:
        raise UserError(f"a run folder keeps the scores of its test part only; use --part test, not {part!r}")
    record = read_run(run_dir)
    split = record.split
    task = codiesp_task(split)
    if task is None:
        raise UserError(f"{run_dir} is a run on {split}; --format {fmt} needs a run on a CodiEsp split "
                        "(codiesp-d, codiesp-p, codiesp-d-en, codiesp-p-en)")
    wanted = fmt.removeprefix("codiesp-")
    if wanted != "x" and wanted != task:
        raise UserError(f"{run_dir} is a run on {split} ({TASK_NAMES[task]}); export it with --format codiesp-{task}")
    if not (run_dir / SCORES_FILE).is_file():
        raise UserError(f"{run_dir} has no {SCORES_FILE} (its test scores); re-run the training for a complete "
                        "run folder")
    if wanted == "x":
        lines = x_lines(run_dir, record, task)
    else:
        doc_ids, codes, scores = load_scores(run_dir / SCORES_FILE)
        lines = list(submission_rows(doc_ids, codes, scores))
    return atomic_write_text(Path(out) if out else run_dir / f"{fmt}-{part}.tsv", "".join(lines))


def x_lines(run_dir: Path, record: RunRecord, task: str) -> list[str]:
    """The CodiEsp-X lines of a neural run on a Spanish split (module docstring)."""
    split = record.split
    if not is_spanish(split):
        raise UserError(f"{run_dir} is a run on {split}, the English translation: CodiEsp-X positions are offsets "
                        f"into the Spanish text; export a run on codiesp-{task} with --format codiesp-x")
    spec = get_model(record.model)
    if spec.trainer == "sklearn" or not (run_dir / MODEL_FILE).is_file():
        raise UserError(f"{run_dir} has no evidence to export: {spec.name} keeps no model that attributes codes "
                        "to text; --format codiesp-x needs a neural run (e.g. caml or laat)")
    job, predicted = finished_run_job(run_dir)
    datamodule = job.datamodule()
    wanted = {row: np.flatnonzero(predicted[row]).tolist() for row in range(len(predicted)) if predicted[row].any()}
    attributions = collect_attributions(saved_model(job, datamodule), datamodule, "test", wanted)
    if attributions is None:
        raise UserError(f"{run_dir} has no evidence to export: {spec.name} exposes no attributions")
    doc_ids, codes = job.split.test["doc_id"].to_list(), job.split.code_list
    no_spans = np.empty((0, 2), dtype=np.int64)
    lines = []
    for row in sorted(attributions):
        document = attributions[row]
        for code in wanted[row]:
            # predicted_spans reads only the attribution and the positions of a case
            case = EvidenceCase(document.per_code[code], document.positions, no_spans, no_spans, "")
            spans = sorted(predicted_spans(case))
            lines.extend(x_row(doc_ids[row], start, end, task, codes[code]) for start, end in spans)
    return lines
