"""Patients, admissions and their codes: the latent part of the synthetic corpus (text comes from
``documents.py``).

A patient has one to three active themes (latent comorbidity clusters) and a set of chronic conditions that
persist across admissions. An admission draws a principal diagnosis (or, now and then, a symptom whose
suspected causes were ruled out), acute secondaries near the principal theme, most of the chronic set, status
codes and procedures. Coding rules then apply: one code per category, hypertension combined with heart
failure / CKD, etiology before manifestation. Distractors (codes mentioned but not coded) and a little label
noise complete an admission.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from icdbench.datasets.synthetic import concepts
from icdbench.datasets.synthetic.pool import CodePool, PoolCode

THEME_PREVALENCE = {"cardiac": 24, "metabolic": 14, "respiratory": 12, "renal": 9, "infection": 9,
                    "digestive": 8, "neuro": 7, "oncology": 6, "psych": 5, "vascular": 5, "liver": 4, "heme": 3,
                    "musculoskeletal": 4, "injury": 5, "general": 2}
_MULTI_PER_CATEGORY = ("E10", "E11", "250", "C79", "198", "S", "Z79", "V58", "Z95", "V45")


@dataclass(frozen=True)
class CorpusConfig:
    """What a synthetic corpus looks like. Every field changes the output, so the split version covers it."""

    system: str = "icd10"  # "icd10" (ICD-10-CM + PCS) or "icd9" (ICD-9-CM dx + proc)
    n_docs: int = 6000
    words: int = 380  # median words per document
    n_tail_dx: int = 850
    n_tail_proc: int = 130
    zipf: float = 0.6
    tail_top_weight: float = 1.0
    distractors: float = 5.0  # mean distractor statements per document
    omit_rate: float = 0.2  # share of documents with one coded condition left out of the labels
    extra_rate: float = 0.1  # share of documents with one code that the text does not support
    silent_rate: float = 0.08  # share of secondary codes the document never mentions (coded from elsewhere)
    displace: float = 0.5  # share of qualifier-bearing mentions whose qualifier moves away from the head words
    symptom_rate: float = 0.07  # admissions whose principal is a symptom after a negative workup
    admissions_mean: float = 2.4


@dataclass
class Admission:
    doc_id: str
    subject_id: str
    number: int  # 1 for the patient's first admission
    age: float
    sex: str
    coded: list[PoolCode]  # in sequence order; what the text asserts
    labels: list[str]  # the gold codes after label noise, in sequence order
    kinds: list[str]
    distractors: list[tuple[str, PoolCode]]  # (kind, code) mentioned but not to be coded
    complaint: str
    theme: str
    noise: dict = field(default_factory=dict)
    silent: set[str] = field(default_factory=set)  # coded conditions the text does not mention


@dataclass
class Patient:
    subject_id: str
    sex: str
    age: float
    themes: list[str]
    chronic: list[PoolCode]


def _poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method; small means only."""
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


_HYPERTENSION = {c for rule in concepts.HTN_COMBINATIONS.values()
                 for key, c in rule.items() if key in ("htn", "hf", "ckd", "esrd", "both")}


def _category(code: PoolCode) -> str | None:
    """Codes of one category exclude each other (one heart-failure code per admission), except where ICD
    coding lists several (diabetes complications, status codes, injuries, procedures). The hypertension
    combination codes form one category."""
    if code.code in _HYPERTENSION:
        return "hypertension"
    if code.kind == "proc" or code.code.startswith(_MULTI_PER_CATEGORY):
        return None
    return code.code[:4] if code.code.startswith("E") and "." in code.code[4:] else code.code[:3]


class CodeSet:
    """An ordered set of codes enforcing sex and one-per-category rules."""

    def __init__(self, sex: str):
        self.sex, self.items, self.categories = sex, [], {}

    def __contains__(self, code: str) -> bool:
        return any(c.code == code for c in self.items)

    def add(self, code: PoolCode, *, replace: bool = False, after: PoolCode | None = None) -> bool:
        if code.sex not in (None, self.sex) or code.code in self:
            return False
        if any(code.code in pair and other in self for pair in concepts.EXCLUSIVE for other in pair):
            return False
        cat = _category(code)
        if cat is not None and cat in self.categories:
            if not replace:
                return False
            self.items.remove(self.categories[cat])
        if cat is not None:
            self.categories[cat] = code
        index = self.items.index(after) + 1 if after is not None and after in self.items else len(self.items)
        self.items.insert(index, code)
        return True

    def remove(self, code: PoolCode) -> None:
        self.items.remove(code)
        cat = _category(code)
        if cat is not None and self.categories.get(cat) is code:
            del self.categories[cat]


def _draw(pool: CodePool, rng: random.Random, role: str, theme: str, local: float) -> PoolCode | None:
    sampler = pool.sampler(role, theme) if rng.random() < local else None
    sampler = sampler or pool.sampler(role)
    return sampler.draw(rng) if sampler else None


def make_patient(pool: CodePool, rng: random.Random, subject_id: str) -> Patient:
    sex = rng.choice("FM")
    age = min(91.0, max(18.0, rng.gauss(63, 17)))
    names, weights = list(THEME_PREVALENCE), list(THEME_PREVALENCE.values())
    themes = list(dict.fromkeys(rng.choices(names, weights, k=1 + (rng.random() < 0.6) + (rng.random() < 0.25))))
    chronic = CodeSet(sex)
    for role, lam in (("chronic", 2.5 + age / 25), ("status", 0.3 + age / 120)):
        for _ in range(_poisson(rng, lam)):
            code = _draw(pool, rng, role, rng.choice(themes), local=0.6)
            if code is not None:
                chronic.add(code)
    return Patient(subject_id, sex, age, themes, chronic.items)


def make_admission(pool: CodePool, cfg: CorpusConfig, rng: random.Random, patient: Patient, number: int,
                   age: float) -> Admission:
    theme = rng.choice(patient.themes) if rng.random() < 0.8 else rng.choices(
        list(THEME_PREVALENCE), list(THEME_PREVALENCE.values()))[0]
    codes = CodeSet(patient.sex)
    symptom = pool.sampler("symptom") if rng.random() < cfg.symptom_rate else None
    principal = symptom.draw(rng) if symptom else _draw(pool, rng, "principal", theme, local=1.0)
    codes.add(principal)
    if symptom:  # the workup of a symptom admission is part of its story
        theme = "general"
    for _ in range(_poisson(rng, 1.7)):
        code = _draw(pool, rng, rng.choice(("acute", "acute", "principal")), theme, local=0.5)
        if code is not None:
            codes.add(code)
    for code in patient.chronic:
        if rng.random() < 0.85:
            codes.add(code)
    for _ in range(_poisson(rng, 1.1)):
        code = _draw(pool, rng, "proc", theme, local=0.6)
        if code is not None:
            codes.add(code)
    _apply_links(pool, codes, rng)
    _combine_hypertension(pool, codes)
    coded = _sequence(codes.items, principal)
    adm = Admission(doc_id="", subject_id=patient.subject_id, number=number, age=age, sex=patient.sex,
                    coded=coded, labels=[], kinds=[], distractors=[], complaint="", theme=theme)
    adm.complaint = _complaint(principal, theme, rng)
    adm.distractors = _distractors(pool, cfg, rng, adm, principal if symptom else None)
    _label_noise(pool, cfg, rng, adm)
    return adm


def _apply_links(pool: CodePool, codes: CodeSet, rng: random.Random) -> None:
    for trigger, companions, prob in concepts.LINKS:
        present = next((c for c in codes.items if c.code == trigger), None)
        if present is None or rng.random() >= prob:
            continue
        options = [pool.codes[c] for c in companions if c in pool.codes]
        if options and not any(o.code in codes for o in options):
            codes.add(rng.choice(options), replace=True, after=present)


def _combine_hypertension(pool: CodePool, codes: CodeSet) -> None:
    """ICD presumes hypertension causes co-existing heart failure and CKD: one combination code replaces I10."""
    rule = concepts.HTN_COMBINATIONS[pool.system]
    htn_codes = {rule[k] for k in ("htn", "hf", "ckd", "esrd", "both")}
    present = [c for c in codes.items if c.code in htn_codes]
    if not present:
        return
    hf = any(c.code.startswith(rule["hf_prefix"]) for c in codes.items)
    esrd = any(c.code in rule["esrd_codes"] for c in codes.items)
    ckd = esrd or any(c.code.startswith(rule["ckd_prefix"]) for c in codes.items)
    target = rule["both"] if hf and ckd else rule["hf"] if hf else rule["esrd"] if esrd else \
        rule["ckd"] if ckd else rule["htn"]
    if target not in pool.codes:
        return
    position = codes.items.index(present[0])
    for c in present:
        codes.remove(c)
    codes.add(pool.codes[target])
    codes.items.insert(position, codes.items.pop())


_ROLE_ORDER = {"principal": 0, "acute": 0, "symptom": 1, "chronic": 2, "status": 3, "proc": 4}


def _sequence(items: list[PoolCode], principal: PoolCode) -> list[PoolCode]:
    """Principal first; then acute, chronic, status diagnoses by weight; procedures last. A linked companion
    (manifestation, "use additional code") comes right after its trigger."""
    present = {c.code for c in items}
    followers: dict[str, list[PoolCode]] = {}
    leaders: list[PoolCode] = []
    for code in items:
        trigger = next((t for t, cs, _ in concepts.LINKS if code.code in cs and t in present and t != code.code),
                       None)
        if trigger is not None and code is not principal:
            followers.setdefault(trigger, []).append(code)
        else:
            leaders.append(code)
    rest = sorted((c for c in leaders if c is not principal), key=lambda c: (_ROLE_ORDER[c.role], -c.weight, c.code))
    ordered: list[PoolCode] = []

    def emit(code: PoolCode) -> None:
        ordered.append(code)
        for follower in followers.get(code.code, ()):
            emit(follower)

    for code in [principal, *rest]:
        emit(code)
    return ordered


def _complaint(principal: PoolCode, theme: str, rng: random.Random) -> str:
    phrase = concepts.SYMPTOM_PHRASES.get(principal.code)
    return phrase or rng.choice(concepts.COMPLAINTS.get(principal.theme, concepts.COMPLAINTS["general"]))


_KIND_WEIGHTS = {"negated": 34, "ruled_out": 18, "family": 20, "resolved": 16, "hypothetical": 12}
# Which roles each kind of distractor talks about: family history names chronic diseases, a resolved history
# names past acute episodes, a workup rules out acute diagnoses.
_KIND_ROLES = {"negated": ("principal", "acute", "chronic"), "ruled_out": ("principal", "acute"),
               "family": ("chronic",), "resolved": ("principal", "acute"), "hypothetical": ("principal", "acute")}


def _distractors(pool: CodePool, cfg: CorpusConfig, rng: random.Random, adm: Admission,
                 symptom: PoolCode | None) -> list[tuple[str, PoolCode]]:
    taken = {c.code for c in adm.coded}
    out: list[tuple[str, PoolCode]] = []
    if symptom is not None:  # what the symptom workup excluded
        for code in concepts.SYMPTOM_WORKUPS.get(symptom.code, ()):
            if code in pool.codes and code not in taken and rng.random() < 0.8:
                out.append(("ruled_out", pool.codes[code]))
                taken.add(code)
    kinds, weights = list(_KIND_WEIGHTS), list(_KIND_WEIGHTS.values())
    dx = [c for c in adm.coded if c.role in ("principal", "acute", "chronic")]
    for _ in range(_poisson(rng, cfg.distractors)):
        kind = rng.choices(kinds, weights)[0]
        u = rng.random()
        if u < 0.3 and dx:  # a sibling of a coded condition: the same words with another qualifier
            options = [s for s in pool.sibling_codes(rng.choice(dx).code)
                       if s not in taken and pool.codes[s].role in ("principal", "acute", "chronic")]
            code = pool.codes[rng.choice(options)] if options else None
        elif u < 0.45:  # a procedure that was discussed but not done
            code, kind = _draw(pool, rng, "proc", adm.theme, local=0.5), "deferred"
        elif u < 0.55:  # a status that does not hold ("never smoker", "full code")
            code = _draw(pool, rng, "status", "*", local=0.0)
            kind = "status" if code is not None and code.code in concepts.NEGATED_STATUS and not any(
                code.code in pair and other in taken for pair in concepts.EXCLUSIVE for other in pair) else "skip"
        else:  # a frequent condition, near the admission's theme or anywhere
            code = _draw(pool, rng, rng.choice(_KIND_ROLES[kind]), adm.theme, local=0.4)
        if code is None or kind == "skip" or code.code in taken or code.sex not in (None, adm.sex):
            continue
        if code.kind == "proc":
            kind = "deferred"
        out.append((kind, code))
        taken.add(code.code)
    return out


def _label_noise(pool: CodePool, cfg: CorpusConfig, rng: random.Random, adm: Admission) -> None:
    """Human coders disagree: now and then a supported code is left out, or an unsupported one added; and some
    coded conditions are documented elsewhere in the record, never in this note."""
    labels = list(adm.coded)
    adm.silent = {c.code for c in labels[1:] if rng.random() < cfg.silent_rate}
    if len(labels) > 2 and rng.random() < cfg.omit_rate:
        dropped = labels.pop(rng.randrange(1, len(labels)))
        adm.noise["omitted"] = dropped.code
    if rng.random() < cfg.extra_rate:
        present = CodeSet(adm.sex)
        for code in adm.coded:
            present.add(code)
        extra = _draw(pool, rng, rng.choice(("acute", "chronic")), adm.theme, local=0.7)
        if extra is not None and extra.code not in {c.code for _, c in adm.distractors} and present.add(extra):
            n_dx = sum(c.kind == "dx" for c in labels)
            labels.insert(n_dx, extra)
            adm.noise["extra"] = extra.code
    adm.labels = [c.code for c in labels]
    adm.kinds = [c.kind for c in labels]
