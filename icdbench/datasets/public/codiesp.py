"""``codiesp-d``, ``codiesp-p`` (+ ``-en``): CodiEsp v4 (CLEF eHealth 2020), Spanish clinical case reports coded
with ICD-10-CM diagnoses (D) or ICD-10-PCS procedures (P); ``-en`` uses the English machine translation.

Users download the corpus (Zenodo, "CodiEsp corpus" v4) and pass its root with ``--source``::

    DIR/{train,dev,test}/text_files/<id>.txt       Spanish text (500 / 250 / 250 cases)
    DIR/{train,dev,test}/text_files_en/<id>.txt    English translation, one sentence per line
    DIR/{train,dev,test}/<part>D.tsv, <part>P.tsv  articleID<TAB>code (lower case, no header)
    DIR/{train,dev,test}/<part>X.tsv               articleID<TAB>DIAGNOSTICO|PROCEDIMIENTO<TAB>code<TAB>text
                                                   reference<TAB>start end[;start end...] (offsets into Spanish)
    DIR/background/                                unlabelled texts (not used here; usable for word2vec)

The published train/dev/test parts are kept (dev = val). Codes keep their granularity (3-character categories,
truncated PCS codes) and are normalised in case and dots. Every code must be well-formed for its system (ICD-10-CM:
a letter, a digit, a letter or digit, then optionally a dot and 1-4 letters or digits; ICD-10-PCS: 7 characters,
or the 4-character truncation CodiEsp-P uses, from 0-9 and A-Z without I and O); a malformed or empty code stops
preparation with its file and line. A well-formed code absent from the package tables (CodiEsp's placeholder forms
such as ``s02.0xx`` without a 7th character, truncated PCS codes such as ``bw24``) is kept and listed in the
manifest's ``unknown_codes``: the official scorer scores every gold code, listed or not. The resolved source folder
is recorded (``source.path``) so a later ``--source`` naming another folder is refused rather than ignored. The
Spanish variants get gold ``evidence`` from the X file (a discontinuous reference gives one span per piece): the
attribution models' ``evidence_*`` keys and the sentence tagger's focus sentences come from it. The English
translation has no offsets, so its variants have no evidence. Code titles are the package's English ones for both
languages (the corpus ships no Spanish descriptions); the statistics card says all this (``card_notes``). The
official ranking metric was MAP over each document's ranked codes (``map_codiesp``, declared as the manifest's
``official_metric`` so the bench summary shows it).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from pathlib import Path

import polars as pl

from icdbench.codes import get_system
from icdbench.datasets.mimic.labels import normalise
from icdbench.datasets.mimic.pipeline import SplitOutput, write_prepared
from icdbench.datasets.registry import PrepareOptions, register_split
from icdbench.datasets.storage import sha256_file
from icdbench.datasets.text import split_sentences
from icdbench.errors import UserError

log = logging.getLogger(__name__)

VERSION = "1.0.0"
PARTS = {"train": "train", "val": "dev", "test": "test"}
KINDS = {"d": ("D", "DIAGNOSTICO", "icd10cm", "dx"), "p": ("P", "PROCEDIMIENTO", "icd10pcs", "proc")}
LAYOUT = "DIR/{train,dev,test}/{text_files,text_files_en}/*.txt and DIR/<part>/<part>{D,P,X}.tsv (CodiEsp v4)"
# What a well-formed code of each system looks like (checked on the raw code, any case).
SHAPES = {
    "icd10cm": (re.compile(r"[a-z][0-9][0-9a-z](\.?[0-9a-z]{1,4})?", re.I),
                "an ICD-10-CM code (letter, digit, letter or digit, then optionally a dot and 1-4 letters or digits, "
                "e.g. r52, n28.89)"),
    "icd10pcs": (re.compile(r"[0-9a-hj-np-z]{4}([0-9a-hj-np-z]{3})?", re.I),
                 "an ICD-10-PCS code (7 characters from 0-9 and A-Z without I and O, e.g. bw03zzz, or the "
                 "4-character truncation CodiEsp-P uses, e.g. bw24)"),
}
FORMS = {2: "articleID<TAB>code", 5: "articleID<TAB>label<TAB>code<TAB>reference<TAB>offsets"}
SPANS = pl.List(pl.Struct({"start": pl.Int64, "end": pl.Int64}))
EVIDENCE = pl.List(pl.Struct({"code": pl.String, "start": pl.Int64, "end": pl.Int64}))


def read_tsv(path: Path, n_fields: int) -> list[tuple[int, list[str]]]:
    """(line number, fields) of every non-empty line; a line with another number of fields is a one-line error
    (extra fields are not dropped silently: they usually mean a shifted column or an editor's trailing tab)."""
    if not path.is_file():
        raise UserError(f"{path} not found; expected layout: {LAYOUT}")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != n_fields:
            hint = "; remove the trailing tab" if len(fields) > n_fields and line.endswith("\t") else ""
            raise UserError(f"{path} line {number}: expected {n_fields} tab-separated fields ({FORMS[n_fields]}), "
                            f"found {len(fields)}{hint}")
        rows.append((number, [f.strip() for f in fields]))
    return rows


def check_code(raw: str, system: str, path: Path, number: int) -> None:
    """An empty code, or one not shaped like a code of ``system``, is a one-line error (unknown codes are not)."""
    shape, what = SHAPES[system]
    if not raw:
        raise UserError(f"{path} line {number}: the code field is empty; expected {what}")
    if not shape.fullmatch(raw):
        raise UserError(f"{path} line {number}: {raw!r} is not {what}")


def parse_offsets(value: str, path: Path, number: int) -> list[tuple[int, int]]:
    """``"12 20;25 31"`` -> [(12, 20), (25, 31)]."""
    pieces = []
    for piece in value.split(";"):
        bounds = piece.split()
        if len(bounds) != 2 or not all(b.isdigit() for b in bounds):
            raise UserError(f"{path} line {number}: offsets {value!r} are not 'start end[;start end...]'")
        pieces.append((int(bounds[0]), int(bounds[1])))
    return pieces


def read_part(root: Path, part: str, kind: str, english: bool, stats: Counter) -> pl.DataFrame:
    """One row per case: doc_id, text, sentences, raw codes in file order, raw evidence (code, start, end)."""
    letter, x_label, system, code_kind = KINDS[kind]
    folder = root / part
    text_dir = folder / ("text_files_en" if english else "text_files")
    if not text_dir.is_dir():
        raise UserError(f"{text_dir} not found; expected layout: {LAYOUT}")
    texts = {p.stem: p.read_text(encoding="utf-8") for p in sorted(text_dir.glob("*.txt"))}
    codes: dict[str, list[str]] = {doc: [] for doc in texts}
    tsv = folder / f"{part}{letter}.tsv"
    for number, (doc, raw) in read_tsv(tsv, 2):
        if doc not in texts:
            raise UserError(f"{tsv} line {number}: no text file for article {doc!r}")
        check_code(raw, system, tsv, number)
        if raw not in codes[doc]:
            codes[doc].append(raw)
    evidence: dict[str, list[dict]] = {doc: [] for doc in texts}
    if not english:
        x_path = folder / f"{part}X.tsv"
        x_labels = {x for _, x, _, _ in KINDS.values()}
        for number, (doc, label, raw, reference, offsets) in read_tsv(x_path, 5):
            if label.upper() not in x_labels:
                raise UserError(f"{x_path} line {number}: label {label!r} is not "
                                f"{' or '.join(sorted(x_labels))}")
            if label.upper() != x_label or doc not in texts:
                continue
            check_code(raw, system, x_path, number)
            pieces = parse_offsets(offsets, x_path, number)
            if any(not 0 <= s < e <= len(texts[doc]) for s, e in pieces):
                stats["evidence_offset_outside_text"] += 1
                continue
            if " ".join(texts[doc][s:e] for s, e in pieces).split() != reference.split():
                stats["evidence_reference_mismatch"] += 1  # kept: the offsets are the gold, the text a copy
            evidence[doc].extend({"code": raw, "start": s, "end": e} for s, e in pieces)
    rows = []
    for doc, text in texts.items():
        spans = _line_spans(text) if english else split_sentences(text)
        rows.append({"doc_id": doc, "text": text, "raw_codes": codes[doc], "raw_evidence": evidence[doc],
                     "sentences": [{"start": s, "end": e} for s, e in spans]})
    stats[f"{part}_documents_without_codes"] += sum(1 for doc in texts if not codes[doc])
    if not rows:
        raise UserError(f"{text_dir} holds no .txt files; expected layout: {LAYOUT}")
    return pl.DataFrame(rows, schema={"doc_id": pl.String, "text": pl.String, "raw_codes": pl.List(pl.String),
                                      "raw_evidence": EVIDENCE, "sentences": SPANS}
                        ).with_columns(pl.lit(system).alias("system"), pl.lit(code_kind).alias("kind"))


def _line_spans(text: str) -> list[tuple[int, int]]:
    """The translation puts one sentence per line."""
    spans, position = [], 0
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped:
            lead = len(line) - len(line.lstrip())
            spans.append((position + lead, position + lead + len(stripped)))
        position += len(line) + 1
    return spans


def finish_part(frame: pl.DataFrame) -> pl.DataFrame:
    """Canonical codes (file order kept, duplicates after normalisation dropped) and evidence on those codes."""
    codes, kinds, evidence = [], [], []
    for raw_codes, raw_evidence, name, kind in frame.select("raw_codes", "raw_evidence", "system", "kind").iter_rows():
        normalize = get_system(name).normalize
        canonical = list(dict.fromkeys(normalize(c) for c in raw_codes))
        codes.append(canonical)
        kinds.append([kind] * len(canonical))
        spans = sorted({(e["start"], e["end"], normalize(e["code"])) for e in raw_evidence})
        labelled = set(canonical)
        evidence.append([{"code": c, "start": s, "end": e} for s, e, c in spans if c in labelled])
    return frame.select("doc_id", pl.col("doc_id").alias("subject_id"), "text", "sentences").with_columns(
        pl.Series("codes", codes, dtype=pl.List(pl.String)), pl.Series("code_kinds", kinds, dtype=pl.List(pl.String)),
        pl.Series("evidence", evidence, dtype=EVIDENCE))


def prepare_codiesp(name: str, kind: str, english: bool, out_dir: Path, options: PrepareOptions) -> Path:
    if options.source is None:
        raise UserError(f"{name} needs --source DIR, the CodiEsp v4 folder ({LAYOUT})")
    root = Path(options.source)
    if root.is_file():
        unpack = " (unpack it first)" if root.name.endswith((".zip", ".tar.gz", ".tgz", ".tar")) else ""
        raise UserError(f"--source {root} is a file{unpack}; {name} needs the CodiEsp v4 folder holding train/, "
                        f"dev/ and test/ ({LAYOUT})")
    if not root.is_dir():
        raise UserError(f"source folder {root} does not exist; expected layout: {LAYOUT}")
    stats: Counter = Counter()
    raw = {part: read_part(root, folder, kind, english, stats) for part, folder in PARTS.items()}
    pairs = pl.concat([f.select(pl.col("raw_codes").alias("raw_code"), "system") for f in raw.values()])
    labels = normalise(pairs.explode("raw_code").drop_nulls().unique())
    parts = {part: finish_part(frame) for part, frame in raw.items()}
    if english:
        parts = {p: f.drop("evidence") for p, f in parts.items()}
    if stats["evidence_offset_outside_text"]:
        log.warning("%s: %d evidence span(s) lie outside their text and were skipped", name,
                    stats["evidence_offset_outside_text"])
    files = {str(p.relative_to(root)): sha256_file(p) for p in sorted(root.glob("*/*.tsv"))}
    spans = {part: int(frame["evidence"].list.len().sum()) for part, frame in parts.items() if not english}
    manifest = {
        "source": {"dataset": "CodiEsp v4 (CLEF eHealth 2020)", "language": "en (machine translation)" if english
                   else "es", "files": files, "path": str(root.resolve())},  # path: see registry.check_source
        "setting": "Miranda-Escalada et al. 2020, CodiEsp-" + KINDS[kind][0],
        "preprocessing_version": "raw-1",
        "counts": dict(sorted(stats.items())),
        "split_assignment": "published", "comparable_to_published": True,
        "published_train_parts": ["train", "val"],  # the track trained on train + dev and scored test once
        "split_note": "the published train/dev/test parts (dev = val); the track's setting trains on train + dev "
                      "(data.train_parts=train,val train.fixed_from=RUN_DIR of a train-only run); official "
                      "metric: MAP (map_codiesp)",
        "card_notes": card_notes(kind, english, spans, ceiling_recall(parts)),
        "ceiling_recall": ceiling_recall(parts),
        "official_metric": {"key": "map_codiesp", "label": "MAP (official)"},  # the bench summary shows it first
    }
    return write_prepared(out_dir, parts, SplitOutput(name, VERSION, labels, manifest), options)


def ceiling_recall(parts: dict[str, pl.DataFrame]) -> dict[str, float]:
    """The share of test code occurrences a model can reach: whose code the label set contains (all of them: the
    label set is every part's codes), and whose code has a training document in train, or in train + val (the
    published setting); the rest only a model reading code titles can predict."""
    test = parts["test"]["codes"].explode().drop_nulls()
    seen_train = set(parts["train"]["codes"].explode().drop_nulls())
    seen_both = seen_train | set(parts["val"]["codes"].explode().drop_nulls())
    share = (lambda known: float(test.is_in(list(known)).mean())) if test.len() else (lambda known: 0.0)
    labels = seen_both | set(test)
    return {"label_set": share(labels), "seen_in_train": share(seen_train), "seen_in_train_val": share(seen_both)}


def card_notes(kind: str, english: bool, spans: dict[str, int], ceiling: dict[str, float]) -> dict[str, str]:
    """What the statistics card says about this variant's evidence, code titles, reachable codes and official
    metric."""
    if english:
        evidence = ("none: the English machine translation has no offsets (CodiEsp-X points into the Spanish "
                    "text), so runs get no evidence_* keys; use the Spanish variant for evidence")
    else:
        evidence = (f"gold, from {KINDS[kind][0]} rows of <part>X.tsv (train {spans['train']:,} | val "
                    f"{spans['val']:,} | test {spans['test']:,} spans; a discontinuous reference is one span per "
                    "piece)")
    system = "ICD-10-CM" if kind == "d" else "ICD-10-PCS"
    titles = (f"English {system} titles from the package tables (RAC, DR-CAML and title-match read them)"
              + ("" if english else ", for Spanish text too: the corpus ships no Spanish descriptions, so most "
                 "title words are not words of the notes"))
    reach = (f"{ceiling['label_set']:.1%} of test code occurrences are in the label set; "
             f"{ceiling['seen_in_train']:.1%} have a train document, {ceiling['seen_in_train_val']:.1%} a train or "
             "val one (the rest only title-aware models can predict)")
    return {"evidence": evidence, "code titles": titles, "ceiling recall": reach,
            "official metric": f"MAP of CodiEsp-{KINDS[kind][0]} (map_codiesp: trec_eval MAP as the track's scorer)"}


def _register(name: str, kind: str, english: bool) -> None:
    what = "ICD-10-CM diagnoses" if kind == "d" else "ICD-10-PCS procedures"
    language = "English machine translation" if english else "Spanish"

    @register_split(name, VERSION, f"CodiEsp v4 clinical cases ({language}), {what}",
                    needs_source="CodiEsp v4 folder")
    def prepare(out_dir: Path, options: PrepareOptions) -> Path:
        return prepare_codiesp(name, kind, english, out_dir, options)


for _kind in ("d", "p"):
    _register(f"codiesp-{_kind}", _kind, False)
    _register(f"codiesp-{_kind}-en", _kind, True)
