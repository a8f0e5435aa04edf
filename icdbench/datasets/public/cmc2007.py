"""``cmc2007``: the CMC 2007 Medical NLP Challenge radiology corpus (Pestian et al. 2007), ICD-9-CM, 45 codes.

Users download the labelled training XML themselves (free for non-commercial use) and pass it with ``--source``::

    <docs>
      <doc id=".." type="RADIOLOGY_REPORT">
        <codes><code origin="CMC_MAJORITY" type="ICD-9-CM">786.2</code> <code origin="COMPANY1" ...>...</codes>
        <texts><text origin=".." type="CLINICAL_HISTORY">..</text><text origin=".." type="IMPRESSION">..</text></texts>
      </doc>
    </docs>

Gold labels are the ``CMC_MAJORITY`` codes (in file order); the text is the clinical history, a newline, then the
impression. The distributed test file has no codes, so evaluation is k-fold cross-validation on the 978 labelled
reports (10 folds, iterative multi-label stratification, seeded; storage in ``icdbench.datasets.public.folds``).
The three coding companies' labels (``COMPANY1``..``COMPANY3``) are kept in ``coders.parquet`` beside the folds,
for the human-coder baseline (each company scored against the majority).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import polars as pl

from icdbench.datasets.mimic.labels import normalise
from icdbench.datasets.mimic.pipeline import SplitOutput, write_prepared
from icdbench.datasets.public.folds import fold_name, write_folds
from icdbench.datasets.registry import PrepareOptions, preparation, register_split
from icdbench.datasets.splitting import patient_split
from icdbench.datasets.storage import sha256_file
from icdbench.datasets.text import split_sentences
from icdbench.errors import UserError

NAME = "cmc2007"
VERSION = "1.0.0"
FOLDS = 10
GOLD = "CMC_MAJORITY"
COMPANIES = ("COMPANY1", "COMPANY2", "COMPANY3")
CODERS_FILE = "coders.parquet"
LAYOUT = "the labelled training XML of the CMC 2007 challenge (root <docs>, one <doc> per report)"


def find_xml(source: Path | None) -> Path:
    if source is None:
        raise UserError(f"{NAME} needs --source: {LAYOUT}")
    source = Path(source)
    if source.is_dir():
        candidates = sorted(source.glob("*.xml"))
        train = [p for p in candidates if "train" in p.name.lower()]
        candidates = train or candidates
        if len(candidates) != 1:
            raise UserError(f"{source} holds {len(candidates)} XML files; pass the labelled training file itself")
        source = candidates[0]
    if not source.is_file():
        raise UserError(f"{source} not found; expected {LAYOUT}")
    return source


def read_reports(path: Path) -> pl.DataFrame:
    """One row per report: doc_id, text, sentences, and the code list of every coder (``coder_<origin>``)."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        line, column = exc.position
        raise UserError(f"{path} line {line}, column {column}: not well-formed XML ({exc.msg})") from exc
    if root.tag != "docs":
        raise UserError(f"{path}: root element is <{root.tag}>, expected <docs> ({LAYOUT})")
    rows = []
    for doc in root.iter("doc"):
        doc_id = doc.get("id")
        if not doc_id:
            raise UserError(f"{path}: a <doc> has no id attribute")
        texts = {t.get("type"): (t.text or "").strip() for t in doc.iter("text")}
        text = "\n".join(texts.get(kind, "") for kind in ("CLINICAL_HISTORY", "IMPRESSION")).strip()
        coders: dict[str, list[str]] = {}
        for code in doc.iter("code"):
            value = (code.text or "").strip()
            if value and value not in coders.setdefault(code.get("origin", ""), []):
                coders[code.get("origin", "")].append(value)
        rows.append({"doc_id": doc_id, "text": text, **{f"coder_{o}": coders.get(o, []) for o in (GOLD, *COMPANIES)}})
    if not rows:
        raise UserError(f"{path} holds no <doc> elements; expected {LAYOUT}")
    frame = pl.DataFrame(rows, schema={"doc_id": pl.String, "text": pl.String,
                                       **{f"coder_{o}": pl.List(pl.String) for o in (GOLD, *COMPANIES)}})
    if frame["doc_id"].is_duplicated().any():
        raise UserError(f"{path}: report id {frame.filter(pl.col('doc_id').is_duplicated())['doc_id'][0]} repeats")
    if frame[f"coder_{GOLD}"].list.len().sum() == 0:
        raise UserError(f"{path} has no {GOLD} codes: it is the unlabelled test file; pass the labelled training file")
    sentences = [[{"start": s, "end": e} for s, e in split_sentences(t)] for t in frame["text"].to_list()]
    return frame.with_columns(pl.Series("sentences", sentences,
                                        dtype=pl.List(pl.Struct({"start": pl.Int64, "end": pl.Int64}))))


def _canonical(frame: pl.DataFrame, column: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Replace the raw codes in ``column`` by canonical ICD-9-CM codes; also return (code, system, known)."""
    long = (frame.select("doc_id", pl.col(column).alias("raw_code")).with_row_index("_row")
            .explode("raw_code").drop_nulls("raw_code").with_columns(pl.lit("icd9cm").alias("system")))
    long = normalise(long)
    lists = long.group_by("_row", maintain_order=True).agg(pl.col("code").unique(maintain_order=True).alias(column))
    out = (frame.with_row_index("_row").drop(column).join(lists, on="_row", how="left").drop("_row")
           .with_columns(pl.col(column).fill_null([])))
    return out, long.select("code", "system", "known").unique()


def load_coders(split_dir: Path) -> pl.DataFrame:
    """The coders' labels of a prepared ``cmc2007``: doc_id, coder (CMC_MAJORITY, COMPANY1..3), codes."""
    return pl.read_parquet(Path(split_dir) / CODERS_FILE)


@register_split(NAME, VERSION, "CMC 2007 radiology challenge (ICD-9-CM, 45 codes), 10-fold cross-validation",
                needs_source="CMC 2007 training XML", folds=FOLDS)
def prepare(out_dir: Path, options: PrepareOptions) -> Path:
    path = find_xml(options.source)
    reports = read_reports(path)
    for origin in (*COMPANIES, GOLD):
        reports, labels = _canonical(reports, f"coder_{origin}")  # the gold's codes are the label set
    k = FOLDS if options.folds is None else options.folds
    if not 2 <= k <= reports.height:
        raise UserError(f"--folds {k}: cross-validation needs 2 to {reports.height} folds (one per report at most)")
    gold = reports[f"coder_{GOLD}"]
    docs = reports.select("doc_id", pl.col("doc_id").alias("subject_id"), "text", gold.alias("codes"),
                          pl.Series("code_kinds", [["dx"] * len(c) for c in gold.to_list()],
                                    dtype=pl.List(pl.String)), "sentences")
    unlabelled = docs.filter(pl.col("codes").list.len() == 0).height
    fold_of = patient_split(docs, seed=options.seed, fractions={fold_name(i): 1 / k for i in range(k)},
                            group_col="doc_id")
    folds = [fold_of[fold_name(i)] for i in range(k)]
    coders = reports.unpivot(on=[f"coder_{o}" for o in (GOLD, *COMPANIES)], index="doc_id",
                             variable_name="coder", value_name="codes")
    coders = coders.with_columns(pl.col("coder").str.strip_prefix("coder_")).sort("doc_id", "coder")
    base = {
        "split": NAME, "split_version": VERSION, "seed": options.seed, "command": options.command,
        "source": {"dataset": "CMC 2007 Medical NLP Challenge", "files": {path.name: sha256_file(path)}},
        "setting": "Pestian et al. 2007; gold = CMC_MAJORITY; text = clinical history + impression",
        "preprocessing_version": "raw-1",
        "counts": {"reports": docs.height, "reports_without_gold_codes": unlabelled},
        "split_assignment": f"{k}-fold cross-validation, iterative stratification (seed {options.seed})",
        "comparable_to_published": False,
        "split_note": "published results use the hidden official test set; cross-validation numbers differ",
    }

    def write_fold(index: int, folder: Path) -> None:
        val_index = (index + 1) % k
        train = pl.concat([f for i, f in enumerate(folds) if i not in (index, val_index)])
        parts = {"train": train.sort("doc_id"), "val": folds[val_index].sort("doc_id"),
                 "test": folds[index].sort("doc_id")}
        manifest = {**base, "fold": index, "folds": k, "coders_file": f"../{CODERS_FILE}"}
        write_prepared(folder, parts, SplitOutput(NAME, VERSION, labels, manifest), options)

    top = {**{k: base[k] for k in ("split", "split_version", "seed", "command", "source")},
           "preparation": preparation(NAME, options)}
    return write_folds(out_dir, top, k, write_fold, {CODERS_FILE: coders.write_parquet}, force=options.force)
