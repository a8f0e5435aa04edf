"""The synthetic splits (DESIGN.md §4): generate, split by patient, choose the label set, write.

Every synthetic split's version is ``GENERATOR_VERSION``; the manifest also records the generator
configuration, the seed and the statistics card (which includes what only the generator knows: how many
documents carry distractors, how much label noise there is).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from icdbench.codes import get_system
from icdbench.datasets.registry import PrepareOptions, preparation, register_split
from icdbench.datasets.splitting import code_counts, codes_table, patient_split, restrict_labels, top_k_codes
from icdbench.datasets.stats import split_card
from icdbench.datasets.storage import PARTS, write_split
from icdbench.datasets.synthetic.corpus import GENERATOR_VERSION, Document, iter_documents
from icdbench.datasets.synthetic.documents import discharge_summary
from icdbench.datasets.synthetic.generator import CorpusConfig
from icdbench.datasets.synthetic.pool import SYSTEMS, build_pool
from icdbench.datasets.synthetic.radiology import radiology_pool, radiology_report

PREPROCESSING_VERSION = "raw-1"  # synthetic text is stored as generated; cleaning happens at model input


@dataclass(frozen=True)
class SyntheticSplit:
    config: CorpusConfig
    top_k: int | None = None  # label set: the k most frequent training codes (None: every training code)
    style: str = "discharge"  # or "radiology"


ICD10 = CorpusConfig(system="icd10", n_docs=6000)
ICD9 = CorpusConfig(system="icd9", n_docs=6000)
RADIOLOGY = CorpusConfig(system="icd10", n_docs=5000, words=110, n_tail_dx=0, n_tail_proc=0, distractors=2.5,
                         omit_rate=0.05, extra_rate=0.04)
TINY = CorpusConfig(system="icd10", n_docs=300, words=220, n_tail_dx=40, n_tail_proc=8)

SPLITS: dict[str, tuple[SyntheticSplit, str]] = {
    "synth-icd10": (SyntheticSplit(ICD10), "synthetic discharge summaries, ICD-10-CM + PCS, every training code"),
    "synth-icd10-50": (SyntheticSplit(ICD10, top_k=50), "synth-icd10 restricted to its 50 most frequent codes"),
    "synth-icd9": (SyntheticSplit(ICD9), "synthetic discharge summaries, ICD-9-CM dx + proc, every training code"),
    "synth-icd9-50": (SyntheticSplit(ICD9, top_k=50), "synth-icd9 restricted to its 50 most frequent codes"),
    "synth-radiology": (SyntheticSplit(RADIOLOGY, top_k=10, style="radiology"),
                        "synthetic short radiology reports, ICD-10-CM, 10 most frequent codes (HMHAN setting)"),
    "synth-tiny": (SyntheticSplit(TINY), "a few hundred short synthetic ICD-10 documents for tests and CI"),
}


def documents_frame(docs: list[Document]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "doc_id": [d.doc_id for d in docs],
            "subject_id": [d.subject_id for d in docs],
            "text": [d.text for d in docs],
            "codes": [d.codes for d in docs],
            "code_kinds": [d.code_kinds for d in docs],
            "reason_for_visit": [d.reason_for_visit for d in docs],
            "age": [float(d.age) for d in docs],
            "sex": [d.sex for d in docs],
            "sentences": [[{"start": s, "end": e} for s, e in d.sentences] for d in docs],
            "evidence": [[{"code": c, "start": s, "end": e} for c, s, e in d.evidence] for d in docs],
        },
        schema={"doc_id": pl.String, "subject_id": pl.String, "text": pl.String, "codes": pl.List(pl.String),
                "code_kinds": pl.List(pl.String), "reason_for_visit": pl.String, "age": pl.Float64,
                "sex": pl.String, "sentences": pl.List(pl.Struct({"start": pl.Int64, "end": pl.Int64})),
                "evidence": pl.List(pl.Struct({"code": pl.String, "start": pl.Int64, "end": pl.Int64}))},
    )


def renderer_for(split: SyntheticSplit, pool=None):
    cfg = split.config
    if split.style == "radiology":
        return lambda adm, rng: radiology_report(adm, rng, words_target=cfg.words, displace=cfg.displace, pool=pool)

    return lambda adm, rng: discharge_summary(adm, rng, words_target=cfg.words, displace=cfg.displace)


def pool_for(split: SyntheticSplit, seed: int):
    cfg = split.config
    if split.style == "radiology":
        return radiology_pool(seed)
    return build_pool(cfg.system, n_tail_dx=cfg.n_tail_dx, n_tail_proc=cfg.n_tail_proc, seed=seed,
                      zipf=cfg.zipf, tail_top_weight=cfg.tail_top_weight)


def build(name: str, seed: int) -> tuple[dict[str, pl.DataFrame], pl.DataFrame, dict]:
    """Generate split ``name``: its parts, codes table and statistics card (not written)."""
    split, _ = SPLITS[name]
    pool = pool_for(split, seed)
    docs = list(iter_documents(pool, split.config, seed, renderer_for(split, pool)))
    parts = patient_split(documents_frame(docs), seed=seed)
    counts = code_counts(parts["train"])
    labels = top_k_codes(parts["train"], split.top_k) if split.top_k else sorted(counts)
    parts = {p: restrict_labels(parts[p], labels) for p in PARTS}
    kinds = {c: k for d in docs for c, k in zip(d.codes, d.code_kinds)}
    dx_name, proc_name = SYSTEMS[split.config.system]
    codes = codes_table(labels, kinds, counts, {"dx": get_system(dx_name), "proc": get_system(proc_name)})
    kept = set().union(*(set(parts[p]["doc_id"].to_list()) for p in PARTS))
    card = split_card(parts, codes)
    card.update(_generator_stats([d for d in docs if d.doc_id in kept]))
    return parts, codes, card


def _generator_stats(docs: list[Document]) -> dict:
    """What only the generator knows: distractors per document and label noise."""
    n = max(1, len(docs))
    distractors = np.array([len(d.admission.distractors) for d in docs])
    n_codes = max(1, sum(len(d.codes) for d in docs))
    return {
        "distractor_doc_share": float(np.mean(distractors > 0)) if docs else 0.0,
        "distractors_per_document": float(distractors.mean()) if docs else 0.0,
        "label_noise": {"omitted": sum("omitted" in d.admission.noise for d in docs) / n,
                        "extra": sum("extra" in d.admission.noise for d in docs) / n,
                        "unmentioned": sum(len(set(d.codes) & d.admission.silent) for d in docs) / n_codes},
    }


def prepare(name: str, out_dir: Path, options: PrepareOptions) -> Path:
    split, _ = SPLITS[name]
    parts, codes, card = build(name, options.seed)
    manifest = {
        "split": name,
        "split_version": GENERATOR_VERSION,
        "source": f"synthetic generator {GENERATOR_VERSION}",
        "preprocessing_version": PREPROCESSING_VERSION,
        "seed": options.seed,
        "size": split.config.n_docs,
        "generator": {**dataclasses.asdict(split.config), "style": split.style, "top_k": split.top_k},
        "command": options.command or f"icdbench prepare {name}",
        "preparation": preparation(name, options),
        "stats": card,
    }
    return write_split(out_dir, parts, codes, manifest, force=options.force)


def _register(name: str, description: str) -> None:
    @register_split(name, GENERATOR_VERSION, description)
    def _prepare(out_dir: Path, options: PrepareOptions) -> Path:
        return prepare(name, out_dir, options)


for _name, (_split, _description) in SPLITS.items():
    _register(_name, _description)
