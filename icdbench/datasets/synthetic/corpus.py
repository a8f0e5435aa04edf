"""Stream synthetic documents: patients one after another, each from its own seeded generator, so any range of
patients can be produced independently (and in parallel) with identical results."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from icdbench.datasets.synthetic.builder import Rendered
from icdbench.datasets.synthetic.generator import Admission, CorpusConfig, make_admission, make_patient
from icdbench.datasets.synthetic.pool import CodePool

# Bump on ANY change that alters generated output (text, codes, order, sizes): it is every synthetic split's
# version, recorded in manifests and run records.
GENERATOR_VERSION = "1.0.0"

Renderer = Callable[[Admission, random.Random], Rendered]


@dataclass
class Document:
    doc_id: str
    subject_id: str
    text: str
    codes: list[str]
    code_kinds: list[str]
    reason_for_visit: str
    age: float
    sex: str
    sentences: list[tuple[int, int]]
    evidence: list[tuple[str, int, int]]
    admission: Admission  # the latent record (distractors, noise, dates for the MIMIC-shaped writer)


def patient_documents(pool: CodePool, cfg: CorpusConfig, seed: int, index: int,
                      render: Renderer) -> list[Document]:
    """All admissions of patient ``index`` (deterministic in ``seed`` and ``index`` alone)."""
    rng = random.Random(f"synthetic:{seed}:{index}")
    patient = make_patient(pool, rng, subject_id=f"S{index:07d}")
    n_admissions = 1
    while n_admissions < 6 and rng.random() < 1 - 1 / cfg.admissions_mean:
        n_admissions += 1
    docs: list[Document] = []
    age = patient.age
    for number in range(1, n_admissions + 1):
        adm = make_admission(pool, cfg, rng, patient, number, age)
        adm.doc_id = f"{patient.subject_id}-{number:02d}"
        rendered = render(adm, rng)
        age = min(95.0, age + rng.expovariate(1.2))
        if not adm.labels:
            continue
        docs.append(Document(adm.doc_id, adm.subject_id, rendered.text, adm.labels, adm.kinds, adm.complaint,
                             round(adm.age, 1), adm.sex, rendered.sentences, rendered.evidence, adm))
    return docs


def iter_documents(pool: CodePool, cfg: CorpusConfig, seed: int, render: Renderer) -> Iterator[Document]:
    """``cfg.n_docs`` documents, patient after patient (the last patient may be cut short)."""
    produced, index = 0, 0
    while produced < cfg.n_docs:
        for doc in patient_documents(pool, cfg, seed, index, render):
            yield doc
            produced += 1
            if produced >= cfg.n_docs:
                return
        index += 1
