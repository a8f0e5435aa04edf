"""MDACE code evidence (Cheng et al. 2023) moved into the cleaned MIMIC-III documents.

MDACE ships one JSON file per admission (``data/Inpatient/ICD-9/1.0/<hadm_id>-ICD-9.json``):
``{hadm_id, notes: [{note_id, category, description, annotations: [{begin, end, code, code_system, ...}]}]}``
with character offsets into the ``NOTEEVENTS`` text of ``note_id`` (= ``ROW_ID``). A document here is several
notes joined and then cleaned, so each span is shifted by its note's start in the joined raw text and mapped
through ``clean_with_offsets``: evidence offsets point into the stored (cleaned) text exactly.

Spans that cannot be placed are counted, never fatal: offsets outside their note, notes that are not part of
the document (MDACE also annotates physician and radiology notes), codes of another system (the ICD-10 files),
codes not among the document's labels, spans with no word left after cleaning.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path

import polars as pl

from icdbench.codes import get_system
from icdbench.datasets.text import clean_with_offsets, map_span
from icdbench.errors import UserError

log = logging.getLogger(__name__)

CODE_SYSTEMS = {"ICD-9-CM": "icd9cm", "ICD-9-PCS": "icd9proc"}
EVIDENCE = pl.List(pl.Struct({"code": pl.String, "start": pl.Int64, "end": pl.Int64}))


def read_annotations(folder: Path) -> dict[str, list[dict]]:
    """hadm_id (as str) -> annotated notes, from every ``*.json`` under ``folder`` (files of one admission merge)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"evidence folder {folder} does not exist; pass MDACE's data folder (data/Inpatient/ICD-9/1.0)")
    files = sorted(folder.rglob("*.json"))
    if not files:
        raise UserError(f"no MDACE *.json files under {folder}; expected <hadm_id>-ICD-9.json files")
    out: dict[str, list[dict]] = {}
    for path in files:
        try:
            chart = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise UserError(f"{path} line {exc.lineno}: not valid JSON ({exc.msg})") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"{path} cannot be read ({exc})") from exc
        out.setdefault(_hadm_id(chart, path), []).extend(_notes(chart, path))
    return out


def _hadm_id(chart: object, path: Path) -> str:
    value = chart.get("hadm_id") if isinstance(chart, dict) else None
    if not str(value).isdigit():
        raise UserError(f"{path}: expected an MDACE chart object with an integer hadm_id, found {str(value)[:30]!r}")
    return str(int(value))


def _notes(chart: dict, path: Path) -> list[dict]:
    notes = chart.get("notes")
    if not isinstance(notes, list):
        raise UserError(f"{path}: 'notes' must be a list of annotated notes")
    for note in notes:
        annotations = note.get("annotations") if isinstance(note, dict) else None
        if not isinstance(annotations, list) or not str(note.get("note_id")).isdigit():
            raise UserError(f"{path}: every note needs an integer note_id and an annotations list")
        for item in annotations:
            if not (isinstance(item, dict) and isinstance(item.get("begin"), int) and isinstance(item.get("end"), int)
                    and isinstance(item.get("code"), str)):
                raise UserError(f"{path}: note {note['note_id']} has an annotation without integer begin/end and code")
    return notes


def attach_evidence(docs: pl.DataFrame, annotations: dict[str, list[dict]], separator: str):
    """Add the ``evidence`` column (null for admissions MDACE did not annotate) and return the counts.

    ``docs`` has ``doc_id`` (hadm_id), ``codes``, ``text`` (cleaned), ``row_ids`` and ``note_lengths`` (the
    notes in joined order) and ``raw`` (the joined raw text, present for annotated admissions).
    """
    stats: Counter = Counter()
    evidence: dict[int, list[dict]] = {}
    texts: dict[int, str] = {}
    annotated = docs.filter(pl.col("doc_id").cast(pl.String).is_in(list(annotations)))
    for row in annotated.select("doc_id", "codes", "text", "row_ids", "note_lengths", "raw").iter_rows(named=True):
        clean, offset_map = clean_with_offsets(row["raw"])
        if clean != row["text"]:  # cannot happen while both follow the same rule; the offsets need this text
            stats["documents_recleaned"] += 1
            texts[row["doc_id"]] = clean
        starts, position = {}, 0
        for note_id, length in zip(row["row_ids"], row["note_lengths"]):
            starts[note_id] = (position, length)
            position += length + len(separator)
        codes, spans = set(row["codes"]), set()
        for note in annotations[str(row["doc_id"])]:
            for item in note["annotations"]:
                placed = _place(item, starts.get(int(note["note_id"])), codes, offset_map, stats)
                if placed:
                    spans.add(placed)
        stats["spans_kept"] += len(spans)
        evidence[row["doc_id"]] = [{"code": c, "start": s, "end": e} for s, e, c in sorted(spans)]
    stats["admissions_annotated"] = len(annotations)
    stats["admissions_in_documents"] = len(evidence)
    if stats["offset_outside_note"]:
        log.warning("MDACE: %d evidence span(s) lie outside their note and were skipped (see manifest 'evidence')",
                    stats["offset_outside_note"])
    column = pl.DataFrame({"doc_id": list(evidence), "evidence": list(evidence.values())},
                          schema={"doc_id": docs.schema["doc_id"], "evidence": EVIDENCE})
    out = docs.join(column, on="doc_id", how="left")
    if texts:
        fixed = pl.DataFrame({"doc_id": list(texts), "_text": list(texts.values())},
                             schema={"doc_id": docs.schema["doc_id"], "_text": pl.String})
        out = out.join(fixed, on="doc_id", how="left").with_columns(pl.coalesce("_text", "text").alias("text"))
        out = out.drop("_text")
    return out, dict(sorted(stats.items()))


def _place(item: dict, note: tuple[int, int] | None, codes: set[str], offset_map, stats: Counter):
    """One annotation as (start, end, code) in cleaned text, or None (counted under the reason)."""
    system = CODE_SYSTEMS.get(str(item.get("code_system", "")).upper())
    if system is None:
        stats["other_code_system"] += 1
        return None
    if note is None:
        stats["note_not_in_document"] += 1
        return None
    note_start, note_length = note
    begin, end = item["begin"], item["end"]
    if not 0 <= begin < end <= note_length:
        stats["offset_outside_note"] += 1
        return None
    code = get_system(system).normalize(item["code"])
    if code not in codes:
        stats["code_not_in_labels"] += 1
        return None
    start, stop = map_span(offset_map, note_start + begin, note_start + end)
    if start == stop:
        stats["empty_after_cleaning"] += 1
        return None
    return start, stop, code
